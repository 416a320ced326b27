"""``live-canvas serve`` as a user starts it: listening beyond loopback with TLS, a token made
on the first start (printed once, 0600), ``render`` through it, and Ctrl+C ending it cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray.serve")
pytestmark = pytest.mark.serve

from PIL import Image  # noqa: E402
from serve_helpers import free_port  # noqa: E402

from desktop_app.core.metadata import read_parameters  # noqa: E402

LIVE_CANVAS = [sys.executable, "-m", "desktop_app"]


def _certificate(folder: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _wait_for_line(proc: subprocess.Popen, start: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(start):
            return line
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"no {start!r} line; stderr: {proc.stderr.read()[-3000:]}")


def test_serve_beyond_loopback_with_tls_and_a_token(tmp_path):
    cert, key = _certificate(tmp_path)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    port = free_port()
    serve = [*LIVE_CANVAS, "serve", "--model", "tiny", "--device", "cpu", "--host", "0.0.0.0"]
    serve += ["--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)]
    proc = subprocess.Popen(
        serve + ["--cpus-per-replica", "1"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = _wait_for_line(proc, "serving tiny at ")
        token_file = tmp_path / "config" / "live-canvas" / "serve-token"
        assert line.strip() == f"serving tiny at https://0.0.0.0:{port} (token in {token_file})"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        sketch = tmp_path / "sketch.png"
        Image.new("RGB", (256, 256), "white").save(sketch)
        url = f"https://127.0.0.1:{port}"
        render = [*LIVE_CANVAS, "render", str(sketch), "--prompt", "a kite", "--size", "256"]

        def run(out: str, *extra: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                render + ["--out", str(tmp_path / out), *extra],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )

        done = run(
            "ok.png", "--server", url, "--server-ca", str(cert), "--token-file", str(token_file)
        )
        assert done.returncode == 0, done.stderr
        assert "Model: tiny" in read_parameters(tmp_path / "ok.png")
        for out, extra, words in (
            ("a.png", ["--server", url, "--server-ca", str(cert)], "needs its token"),
            ("b.png", ["--server", url, "--token-file", str(token_file)], "does not trust"),
            (
                "c.png",
                ["--server", f"http://127.0.0.1:{port}", "--token-file", str(token_file)],
                "closed the connection",
            ),
        ):
            refused = run(out, *extra)
            assert refused.returncode == 1 and not (tmp_path / out).exists()
            lines = refused.stderr.strip().splitlines()
            assert len(lines) == 1 and words in lines[0], refused.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        stderr = proc.stderr.read()
    assert code == 0, stderr[-3000:]
    assert "made a new token, kept in" in stderr and "live-canvas serve: stopping" in stderr


def test_serve_joins_an_existing_ray_cluster(tmp_path):
    """The studio recipe of docs/SERVING.md on one node: a Ray head started on its own, with
    Ray's token authentication, and ``serve --address`` deploying into it."""
    ray_bin = Path(sys.executable).with_name("ray")
    env = {**os.environ, "HOME": str(tmp_path), "RAY_USAGE_STATS_ENABLED": "0"}
    # The recipe: a token made once (copied to every node), token mode on every node.
    subprocess.run(
        [ray_bin, "get-auth-token", "--generate"], env=env, check=True, capture_output=True
    )
    env["RAY_AUTH_MODE"] = "token"
    ray_port = free_port()
    head = subprocess.Popen(
        [
            ray_bin,
            "start",
            "--head",
            "--block",
            "--port",
            str(ray_port),
            "--num-cpus",
            "2",
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    port = free_port()
    serve = [*LIVE_CANVAS, "serve", "--model", "tiny", "--device", "cpu", "--replicas", "2"]
    serve += ["--port", str(port), "--address", f"127.0.0.1:{ray_port}"]
    proc = None
    try:
        proc = subprocess.Popen(
            serve, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        _wait_for_line(proc, "serving tiny at ")
        sketch = tmp_path / "sketch.png"
        Image.new("RGB", (128, 128), "white").save(sketch)
        out = tmp_path / "joined.png"
        done = subprocess.run(
            [
                *LIVE_CANVAS,
                "render",
                str(sketch),
                "--prompt",
                "x",
                "--size",
                "128",
                "--out",
                str(out),
                "--server",
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, proc.stderr.read()[-3000:]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        os.killpg(head.pid, signal.SIGTERM)  # the head and the workers it started
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)

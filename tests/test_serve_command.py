"""The command line of serving, without Ray: every bad input is one line before anything
starts, and render/bench against a server that is not there say so (the server itself is
tested with Ray in tests/serving/)."""

from __future__ import annotations

import socket

import pytest
from doubles import FakeEngine
from PIL import Image
from service_http import serving

from desktop_app.cli import EXIT_ERROR, EXIT_USAGE, main
from desktop_app.core.metadata import read_parameters


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--autoscale", "3:1"], EXIT_USAGE, "1 <= MIN <= MAX"),
        (["--autoscale", "two"], EXIT_USAGE, "MIN:MAX"),
        (["--replicas", "2", "--autoscale", "1:2"], EXIT_USAGE, "not allowed with"),
        (["--replicas", "0"], EXIT_USAGE, "replicas must be between 1 and 256"),
        (["--port", "70000"], EXIT_USAGE, "port must be between 1 and 65535"),
        (["--tls-cert", "c.pem"], EXIT_ERROR, "needs both --tls-cert and --tls-key"),
        (["--tls-cert", "/nope.pem", "--tls-key", "/nope.key"], EXIT_ERROR, "No such file"),
        (["--host", "no-such-host.invalid"], EXIT_ERROR, "unknown host"),
    ],
)
def test_bad_serve_options_are_one_line(capsys, args, code, words):
    got, _, err = run_cli(capsys, "serve", "--model", "tiny", *args)
    assert got == code and words in _one_line(err)


def test_a_certificate_that_is_not_pem_is_named(capsys, tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("hello")
    got, _, err = run_cli(capsys, "serve", "--tls-cert", cert, "--tls-key", cert)
    assert got == EXIT_ERROR and "is not a PEM file" in _one_line(err)


def test_a_port_in_use_is_named_before_ray_starts(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        got, _, err = run_cli(capsys, "serve", "--model", "tiny", "--port", port)
    assert got == EXIT_ERROR and f"cannot listen on 127.0.0.1:{port}" in _one_line(err)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--server", "ftp://x"], "must start with http:// or https://"),
        (["--server", "http://a:1", "--model", "tiny"], "--model and --server cannot be combined"),
        (["--server", "http://a:1", "--device", "cpu"], "--device and --server cannot be combined"),
        (["--token-file", "t"], "--token-file goes with --server"),
        (["--server", "http://a:1", "--token-file", "/nope"], "token file /nope does not exist"),
    ],
)
def test_render_server_options_are_checked_first(capsys, tmp_path, args, words):
    sketch = tmp_path / "s.png"
    Image.new("RGB", (64, 64), "white").save(sketch)
    got, _, err = run_cli(
        capsys, "render", sketch, "--prompt", "x", "--out", tmp_path / "o.png", *args
    )
    assert got == EXIT_ERROR and words in _one_line(err)
    assert not (tmp_path / "o.png").exists()


def test_render_against_a_server_that_is_not_there(capsys, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sketch = tmp_path / "s.png"
    Image.new("RGB", (64, 64), "white").save(sketch)
    out = tmp_path / "o.png"
    got, _, err = run_cli(
        capsys, "render", sketch, "--prompt", "x", "--out", out, "--server", f"127.0.0.1:{port}"
    )
    assert got == EXIT_ERROR and "connection refused" in _one_line(err)
    assert not out.exists()


def test_render_on_a_server_writes_the_png_with_its_parameters(capsys, tmp_path):
    sketch, out = tmp_path / "s.png", tmp_path / "o.png"
    Image.new("RGB", (64, 64), "white").save(sketch)
    with serving(FakeEngine(model="fake-remote"), replica="r") as served:
        args = ["render", sketch, "--prompt", "ein Bär", "--out", out, "--server", served.url]
        got, stdout, _ = run_cli(capsys, *args, "--size", "128", "--full-quality")
    assert got == 0 and f"at 127.0.0.1:{served.port}" in stdout and "round trip" in stdout
    assert read_parameters(out).startswith("ein Bär\n")
    assert "Model: fake-remote" in read_parameters(out)


def test_bench_server_options_are_checked_first(capsys):
    got, _, err = run_cli(capsys, "bench", "--server", "http://a:1", "--compile")
    assert got == EXIT_ERROR and "--compile and --server cannot be combined" in _one_line(err)
    got, _, err = run_cli(capsys, "bench", "--server", "http://a:1", "--clients", "0")
    assert got == EXIT_USAGE and "clients must be whole numbers" in _one_line(err)

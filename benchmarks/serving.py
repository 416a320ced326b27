"""The serving figures of docs/SERVING.md, in one run: the same tiny model at 512 in this
process (one torch thread, as each replica here), then behind ``live-canvas serve`` with one
replica and with two (one CPU each), measured with ``live-canvas bench --server``.

    .venv/bin/python benchmarks/serving.py --frames 100 --seconds 20 \\
        --out benchmarks/results/serving.json

Needs the serve extra. Every server is a real ``live-canvas serve`` process on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

LIVE_CANVAS = [sys.executable, "-m", "desktop_app"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_json(argv: list[str], env: dict | None = None) -> dict:
    print("$", " ".join(argv[2:]), file=sys.stderr)
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


class Served:
    """``live-canvas serve`` in a child process, until the ``with`` block ends."""

    def __init__(self, replicas: int) -> None:
        self.port = free_port()
        self.argv = [*LIVE_CANVAS, "serve", "--model", "tiny", "--device", "cpu"]
        self.argv += ["--replicas", str(replicas), "--cpus-per-replica", "1"]
        self.argv += ["--port", str(self.port)]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        print("$", " ".join(self.argv[2:]), file=sys.stderr)
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True)
        while not (line := self.proc.stdout.readline()).startswith("serving "):
            if not line and self.proc.poll() is not None:
                sys.exit("the server did not start")
        return self

    def __exit__(self, *_exc) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(60)
        time.sleep(2)  # Ray's processes go


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    frames = ["--frames", str(args.frames), "--warmup", "5", "--json"]
    report: dict = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": sys.argv}
    one_thread = {**os.environ, "LIVE_CANVAS_THREADS": "1"}
    report["in_process"] = run_json(
        [*LIVE_CANVAS, "bench", "--model", "tiny", "--size", "512", "--no-baseline", *frames],
        env=one_thread,
    )
    bench = [*LIVE_CANVAS, "bench", "--size", "512", "--seconds", str(args.seconds), *frames]
    with Served(replicas=1) as served:
        report["one_replica"] = run_json(
            bench + ["--server", served.url, "--clients", "1", "--no-lan"]
        )
    with Served(replicas=2) as served:
        report["two_replicas"] = run_json(bench + ["--server", served.url, "--clients", "1,2,4"])
    one = report["one_replica"]["concurrency"]["1"]["fps"]
    two = report["two_replicas"]["concurrency"]["2"]["fps"]
    report["scaling_2x2_over_1x1"] = two / one
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

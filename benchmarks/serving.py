"""The serving figures of docs/SERVING.md, in one run: the same tiny model at 512 in this
process (one torch thread, as each replica here), then behind ``live-canvas serve`` with one
replica and with two (one CPU each), measured with ``live-canvas bench --server``; the
one-replica and two-replica servers alternate for a few rounds, since a shared host's speed
drifts between minutes.

    .venv/bin/python benchmarks/serving.py --frames 100 --seconds 20 --rounds 3 \\
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


def natural_picture_bytes() -> dict:
    """A live frame's download for a picture that looks like a picture (the tiny model's are
    noise-like): a photograph at 512², encoded as the server encodes a live frame."""
    import numpy as np
    import skimage.data
    from PIL import Image

    from desktop_app.core.wire import DEFAULT_FORMAT, DEFAULT_QUALITY, encode_picture

    photo = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((512, 512)))
    start = time.perf_counter()
    data = encode_picture(photo, DEFAULT_FORMAT, DEFAULT_QUALITY)
    return {
        "picture": "skimage.data.astronaut() at 512x512",
        "format": DEFAULT_FORMAT,
        "quality": DEFAULT_QUALITY,
        "bytes": len(data),
        "encode_ms": (time.perf_counter() - start) * 1000,
    }


_RENDER_FOR = """
import sys, time
from desktop_app.bench.common import StrokeSketch
from desktop_app.core.types import RenderRequest
from desktop_app.engine.loading import load_engine
engine, sketches = load_engine("tiny", device="cpu"), StrokeSketch(512)
for _ in range(3):
    engine.render(RenderRequest(sketch=sketches.next(), size=512))
start, frames = time.perf_counter(), 0
while time.perf_counter() - start < float(sys.argv[1]):
    engine.render(RenderRequest(sketch=sketches.next(), size=512))
    frames += 1
print(frames / (time.perf_counter() - start))
"""


def compute_ceiling(seconds: float) -> dict:
    """Frames per second of one, then two processes rendering the tiny model at once with a
    thread each and no server: what the cores give two replicas before any serving."""
    env = {**os.environ, "LIVE_CANVAS_THREADS": "1"}

    def together(count: int) -> list[float]:
        argv = [sys.executable, "-c", _RENDER_FOR, str(seconds)]
        procs = [
            subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env) for _ in range(count)
        ]
        return [float(p.communicate()[0]) for p in procs]

    one, two = together(1), together(2)
    return {"one_process_fps": one, "two_processes_fps": two, "ratio": sum(two) / sum(one)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2, help="of 1x1 then 2x2, alternating")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    frames = ["--frames", str(args.frames), "--warmup", "5", "--json"]
    report: dict = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": sys.argv}
    report["natural_picture"] = natural_picture_bytes()
    report["compute_ceiling"] = compute_ceiling(args.seconds)
    one_thread = {**os.environ, "LIVE_CANVAS_THREADS": "1"}
    report["in_process"] = run_json(
        [*LIVE_CANVAS, "bench", "--model", "tiny", "--size", "512", "--no-baseline", *frames],
        env=one_thread,
    )
    bench = [*LIVE_CANVAS, "bench", "--size", "512", "--seconds", str(args.seconds), *frames]
    report["rounds"] = []
    for n in range(args.rounds):
        # The first round also times frames one by one and through the LAN relay.
        once = [] if n == 0 else ["--frames", "10", "--no-lan"]
        with Served(replicas=1) as served:
            one = run_json(bench + ["--server", served.url, "--clients", "1", "--no-lan"] + once)
        with Served(replicas=2) as served:
            two = run_json(bench + ["--server", served.url, "--clients", "1,2,4"] + once)
        ratio = two["concurrency"]["2"]["fps"] / one["concurrency"]["1"]["fps"]
        report["rounds"].append(
            {"one_replica": one, "two_replicas": two, "scaling_2x2_over_1x1": ratio}
        )
    ratios = sorted(r["scaling_2x2_over_1x1"] for r in report["rounds"])
    report["scaling_2x2_over_1x1"] = ratios
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

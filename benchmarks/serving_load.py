"""The load test of docs/SERVING.md ("Batching"): K artists drawing at once against one
``live-canvas serve`` replica, with the server's batching on and off in the same run.

    .venv/bin/python benchmarks/serving_load.py --artists 4 --seconds 20 \\
        --out benchmarks/results/serving_load.json
    # a GPU (benchmarks/gpu.sh): the server's model and device, and no pause between strokes
    .venv/bin/python benchmarks/serving_load.py --model random:sdxl --device cuda \\
        --artists 4 --seconds 20 --stroke-ms 0

Starts the server itself (``--model``, default tiny, on one replica with ``--max-batch`` and
``--batch-wait-ms``), then runs ``live-canvas bench --server URL --artists K`` against it:
each run draws with batching on, then off (frames that ask to render alone), for
``--rounds`` rounds, alternating, since a shared host's speed drifts between minutes. A
server already running can be measured with ``--server URL`` instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import LIVE_CANVAS, free_port, run_json  # noqa: E402


class LoadServer:
    """``live-canvas serve`` of one replica in a child process, until the block ends."""

    def __init__(self, args: argparse.Namespace) -> None:
        import subprocess

        self._subprocess = subprocess
        self.port = free_port()
        self.argv = [*LIVE_CANVAS, "serve", "--model", args.model, "--port", str(self.port)]
        self.argv += ["--max-batch", str(args.max_batch), "--batch-wait-ms", f"{args.wait_ms:g}"]
        if args.device:
            self.argv += ["--device", args.device]
        if args.device in (None, "cpu"):
            self.argv += ["--cpus-per-replica", str(args.cpus)]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoadServer:
        print("$", " ".join(self.argv[2:]), file=sys.stderr)
        self.proc = self._subprocess.Popen(self.argv, stdout=self._subprocess.PIPE, text=True)
        while not (line := self.proc.stdout.readline()).startswith("serving "):
            if not line and self.proc.poll() is not None:
                sys.exit("the server did not start")
        return self

    def __exit__(self, *_exc) -> None:
        import signal

        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(60)
        time.sleep(2)  # Ray's processes go


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=None, help="measure this server instead")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--device", default=None)
    parser.add_argument("--cpus", type=float, default=1.0, help="a CPU replica's cores")
    parser.add_argument("--max-batch", type=int, default=4)
    parser.add_argument("--wait-ms", type=float, default=5.0)
    parser.add_argument("--artists", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--stroke-ms", type=float, default=150.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    report: dict = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": sys.argv}
    report["rounds"] = []

    def measure(url: str) -> dict:
        bench = [*LIVE_CANVAS, "bench", "--server", url, "--artists", str(args.artists)]
        bench += ["--seconds", f"{args.seconds:g}", "--stroke-ms", f"{args.stroke_ms:g}"]
        return run_json(bench + ["--size", str(args.size), "--json"])

    if args.server:
        report["rounds"] = [measure(args.server) for _ in range(args.rounds)]
    else:
        with LoadServer(args) as served:
            report["server_command"] = " ".join(served.argv[2:])
            report["rounds"] = [measure(served.url) for _ in range(args.rounds)]
    for n, found in enumerate(report["rounds"]):
        on, off = found["runs"]["on"], found["runs"]["off"]
        print(
            f"round {n + 1}: on {on['fps_total']:.2f} frames/s (fairness {on['fairness']}), "
            f"off {off['fps_total']:.2f} (fairness {off['fairness']}); batch sizes on "
            f"{on['batch_sizes']}",
            file=sys.stderr,
        )
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

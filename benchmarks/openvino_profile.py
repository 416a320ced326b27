"""Where an OpenVINO frame's time goes: OpenVINO's own per-operation times, summed by kind.

    .venv/bin/python benchmarks/openvino_profile.py --model random:sd15 --precision int8
    .venv/bin/python benchmarks/openvino_profile.py --model tiny --size 128 --frames 2

Renders ``--frames`` scribble frames with ``--backend openvino`` (the models come from the
conversion cache, or are converted first, as ``live-canvas bench`` does) compiled with
``PERF_COUNT``, then prints, for the last frame, each part's time (ControlNet, UNet, decoder)
and the operations that took it, grouped by operation type and by the kernel OpenVINO chose
(``exec_type``: its name says the instruction set and the precision the kernel computes in, for
example ``brgconv_avx2_I8`` or ``jit_avx2_FP32``; ``ref_*`` kernels are the slow fallbacks).
The wall time of the frame is printed beside the sum, so what the forwards do not explain is
visible too. ``--json`` writes the whole table.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import sys
import time

PROMPT = "a lighthouse on a cliff at dusk, watercolour"


def part_profile(request) -> tuple[float, list[dict]]:
    """(wall ms of the part's last inference as OpenVINO counts it, its executed nodes)."""
    rows = []
    for info in request.profiling_info:
        if info.status.name != "EXECUTED":
            continue
        rows.append(
            {
                "node": info.node_name,
                "type": info.node_type,
                "kernel": info.exec_type,
                "ms": info.real_time.total_seconds() * 1000,
            }
        )
    return sum(r["ms"] for r in rows), rows


def grouped(rows: list[dict], field: str) -> list[tuple[str, float, int]]:
    totals: dict[str, float] = collections.defaultdict(float)
    counts: collections.Counter = collections.Counter()
    for row in rows:
        totals[row[field]] += row["ms"]
        counts[row[field]] += 1
    return sorted(((k, v, counts[k]) for k, v in totals.items()), key=lambda item: -item[1])


def precision_of(kernel: str) -> str:
    """The arithmetic a kernel computes in, from the suffix OpenVINO gives its name."""
    name = kernel.upper()
    for suffix, precision in (("BF16", "bf16"), ("F16", "f16"), ("F32", "f32"), ("I8", "i8"),
                              ("U8", "i8"), ("I32", "i32")):
        if name.endswith(suffix):
            return precision
    return "other"


def print_part(name: str, total: float, rows: list[dict], top: int) -> None:
    print(f"\n== {name}: {total:.1f} ms in {len(rows)} executed operations")
    for label, field in (("by operation type", "type"), ("by kernel", "kernel")):
        print(f"  {label}:")
        for key, ms, count in grouped(rows, field)[:top]:
            print(f"    {key:<34} {ms:9.1f} ms {100 * ms / total:5.1f} %  ({count})")
    by_precision = collections.defaultdict(float)
    for row in rows:
        by_precision[precision_of(row["kernel"])] += row["ms"]
    shares = ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in sorted(by_precision.items()))
    print(f"  by arithmetic: {shares}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random:sd15")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--precision", default="int8")
    parser.add_argument("--device", default=None, help="openvino:CPU (default), openvino:GPU")
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--json", default=None, help="write every executed operation here")
    args = parser.parse_args(argv)

    import torch

    from desktop_app.core.types import RenderRequest
    from desktop_app.engine.loading import load_parts
    from desktop_app.engine.openvino.calibration import sketches
    from desktop_app.engine.openvino.engine import OpenVinoEngine
    from desktop_app.engine.openvino.target import resolve_target

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    target = dataclasses.replace(resolve_target(args.device, args.precision), profile=True)
    engine = OpenVinoEngine(load_parts(args.model, torch.float32, progress=say), target)
    start = time.perf_counter()
    engine.prepare(args.size, say)
    prepare_s = time.perf_counter() - start
    circle = sketches(args.size)[0]
    request = RenderRequest(sketch=circle, prompt=PROMPT, size=args.size)
    engine.render(request)  # the prompt's encoding and first-call costs, not profiled below
    wall_ms = []
    for _ in range(args.frames):
        start = time.perf_counter()
        engine.render(request)
        wall_ms.append((time.perf_counter() - start) * 1000)
    forwards = engine._forwards[(1, 4, args.size // 8, args.size // 8)]
    parts = {name: part_profile(req) for name, req in forwards.requests.items()}
    print(f"{args.model} {args.size}x{args.size} {target.precision} on {target.device}; "
          f"prepared in {prepare_s:.0f} s; frames {', '.join(f'{ms:.0f}' for ms in wall_ms)} ms "
          f"(wall); the last frame's forwards: "
          + ", ".join(f"{name} {total:.0f} ms" for name, (total, _rows) in parts.items()
                      if total))
    for name, (total, rows) in parts.items():
        if total:
            print_part(name, total, rows, args.top)
    if args.json:
        report = {
            "model": args.model, "size": args.size, "precision": target.precision,
            "device": target.device, "frames_ms": wall_ms, "prepare_s": prepare_s,
            "parts": {name: {"ms": total, "ops": rows} for name, (total, rows) in parts.items()},
        }
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

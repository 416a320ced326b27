"""How far each OpenVINO precision's frame is from the PyTorch engine's fp32 frame, on the same
weights, noise and sketches.

    .venv/bin/python benchmarks/openvino_fidelity.py --model random:sd15 --precisions fp32 int8

The PyTorch engine (fp32, CPU) renders a few scribble frames; then, one precision at a time,
the OpenVINO engine on the same loaded modules renders the same requests (its models from the
conversion cache, or converted first). For each precision it prints the largest latent
difference as a share of the largest latent value, the largest and mean pixel difference
(0-255) and the picture's PSNR against the fp32 PyTorch picture, worst over the frames. The
sketches and prompts differ from the int8 calibration set (``engine/openvino/calibration``).
``--json`` writes the report.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys

import numpy as np

PROMPTS = ("a red fox in the snow, photograph", "an old harbour town, ink and wash")


def sketches(size: int) -> list[np.ndarray]:
    """A spiral and a set of boxes: lines the calibration sketches do not have."""
    y, x = np.mgrid[0:size, 0:size] / size
    spiral = np.full((size, size, 3), 255, np.uint8)
    radius, angle = np.hypot(x - 0.5, y - 0.5), np.arctan2(y - 0.5, x - 0.5)
    spiral[abs((radius * 40 - angle) % (2 * np.pi) - np.pi) < 0.25] = 20
    boxes = np.full((size, size, 3), 255, np.uint8)
    for left, top, side in ((0.1, 0.1, 0.3), (0.5, 0.2, 0.35), (0.25, 0.6, 0.25)):
        inside = (x > left) & (x < left + side) & (y > top) & (y < top + side)
        edge = inside & ~((x > left + 0.01) & (x < left + side - 0.01)
                          & (y > top + 0.01) & (y < top + side - 0.01))
        boxes[edge] = 20
    return [spiral, boxes]


def compare(reference, frame) -> dict:
    latent = float((frame.latents - reference.latents).abs().max() / reference.latents.abs().max())
    a, b = reference.image.astype(np.float64), frame.image.astype(np.float64)
    mse = float(((a - b) ** 2).mean())
    return {
        "latent_share": latent,
        "pixel_max": float(np.abs(a - b).max()),
        "pixel_mean": float(np.abs(a - b).mean()),
        "psnr_db": float("inf") if mse == 0 else 10 * np.log10(255**2 / mse),
    }


def worst(rows: list[dict]) -> dict:
    return {
        "latent_share": max(r["latent_share"] for r in rows),
        "pixel_max": max(r["pixel_max"] for r in rows),
        "pixel_mean": max(r["pixel_mean"] for r in rows),
        "psnr_db": min(r["psnr_db"] for r in rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random:sd15")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8-weights", "int8"])
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import torch

    from desktop_app.core.types import RenderRequest
    from desktop_app.engine.device import Placement
    from desktop_app.engine.loading import load_parts
    from desktop_app.engine.openvino.engine import OpenVinoEngine
    from desktop_app.engine.openvino.target import resolve_target
    from desktop_app.engine.renderer import Engine

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    parts = load_parts(args.model, torch.float32, progress=say)
    requests = [
        RenderRequest(sketch=page, prompt=prompt, size=args.size, seed=40 + n)
        for n, (page, prompt) in enumerate(zip(sketches(args.size), PROMPTS, strict=True))
    ]
    reference_engine = Engine(parts, Placement(torch.device("cpu"), torch.float32))
    references = [reference_engine.render(request) for request in requests]
    del reference_engine
    report = {"model": args.model, "size": args.size, "precisions": {}}
    for precision in args.precisions:
        target = resolve_target(None, precision)
        engine = OpenVinoEngine(parts, target, progress=say)
        engine.prepare(args.size, say)
        pairs = zip(references, requests, strict=True)
        rows = [compare(reference, engine.render(request)) for reference, request in pairs]
        scope = target.int8_scope if precision == "int8" else None
        result = dict(worst(rows), int8_scope=scope)
        report["precisions"][precision] = result
        print(
            f"{precision:<13} latents within {100 * result['latent_share']:.3g} % of the largest, "
            f"pixels within {result['pixel_max']:.0f} levels (mean {result['pixel_mean']:.2f}), "
            f"PSNR {result['psnr_db']:.1f} dB"
            + (f"  [int8: {result['int8_scope']}]" if result["int8_scope"] else ""),
            flush=True,
        )
        del engine
        gc.collect()
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What one device holds for K artists without the network: K frames rendered one by one
against the same K frames in one batched forward (``Engine.render_batch``, what
``live-canvas serve --max-batch K`` runs), each artist with their own prompt, seed and sketch.

    .venv/bin/python benchmarks/batch_capacity.py --model random:sdxl --device cuda --artists 4
    .venv/bin/python benchmarks/batch_capacity.py --model tiny --device cpu --artists 4 --rounds 5

Prints (and with ``--json``, writes) the median milliseconds of a round each way and what they
mean per artist: one frame each per round, so frames/s per artist = 1000 / round ms. The served
figure is this minus the network and the replica's queueing (docs/SERVING.md, "Batching"). The
rounds alternate the two ways so that a drifting machine costs both alike; the device is
synchronised by the engine's own copy of each picture to the host.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

PROMPTS = ("a lighthouse at dusk", "a red fox in snow", "a city street, rain", "a bowl of fruit")


def sketches(count: int, size: int) -> list[np.ndarray]:
    """Different strokes for each artist: a diagonal line at a different angle."""
    out = []
    for artist in range(count):
        page = np.full((size, size, 3), 255, np.uint8)
        for i in range(size // 8, size - size // 8):
            j = (i * (artist + 1)) % size
            page[i : i + 4, j : j + 4] = 0
        out.append(page)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--device", default=None)
    parser.add_argument("--artists", type=int, default=4)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", default=None, help="write the report to this file")
    args = parser.parse_args(argv)

    from desktop_app.core.types import RenderRequest
    from desktop_app.engine.loading import load_engine

    engine = load_engine(args.model, device=args.device)
    requests = [
        RenderRequest(sketch=s, prompt=PROMPTS[i % len(PROMPTS)], seed=100 + i, size=args.size)
        for i, s in enumerate(sketches(args.artists, args.size))
    ]
    alone_ms, batched_ms = [], []
    for round_ in range(args.warmup + args.rounds):
        start = time.perf_counter()
        for request in requests:
            engine.render(request)
        alone = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        results = engine.render_batch(requests)
        batched = (time.perf_counter() - start) * 1000
        assert len(results) == len(requests)
        if round_ >= args.warmup:
            alone_ms.append(alone)
            batched_ms.append(batched)
        print(f"round {round_ + 1}: one by one {alone:.0f} ms, batched {batched:.0f} ms",
              file=sys.stderr, flush=True)
    alone, batched = statistics.median(alone_ms), statistics.median(batched_ms)
    report = {
        "model": args.model,
        "device": engine.info.device,
        "dtype": engine.info.dtype,
        "size": args.size,
        "artists": args.artists,
        "rounds": args.rounds,
        "round_ms_one_by_one": round(alone, 1),
        "round_ms_batched": round(batched, 1),
        "batched_speedup": round(alone / batched, 2),
        "frames_per_s_per_artist_one_by_one": round(1000 / alone, 1),
        "frames_per_s_per_artist_batched": round(1000 / batched, 1),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What keeping the filmstrip costs: writing one new picture (on the writing thread), a full
strip of 20, its size on disk, and reading it back at start (on the UI thread).

    .venv/bin/python benchmarks/filmstrip_cost.py --size 512

The pictures are smooth gradients with noise (sigma 12): harder to compress than most
renders, far easier than pure noise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def pictures(side: int, count: int) -> tuple:
    import numpy as np

    from desktop_app.app.filmstrip_store import StoredPicture
    from desktop_app.core.types import GenerationParams

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:side, :side]
    made = []
    for i in range(count):
        base = np.stack(
            [(xx * 255 // side + i * 10) % 256, yy * 255 // side, (xx + yy) * 127 // side], -1
        )
        image = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        params = GenerationParams("p", i, 1, side, "m", "scribble", 1.0, None)
        made.append(StoredPicture(f"{i}.png", image, params, False))
    return tuple(made)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args(argv)

    from desktop_app.app.filmstrip_store import FilmstripStore

    strip = pictures(args.size, args.count)
    folder = Path(tempfile.mkdtemp(prefix="filmstrip-"))
    store = FilmstripStore(folder)
    started = time.perf_counter()
    store.save(strip[-1:])
    one_s = time.perf_counter() - started
    started = time.perf_counter()
    kept = store.save(strip)
    all_s = time.perf_counter() - started
    on_disk = sum(p.stat().st_size for p in folder.glob("*.png"))
    started = time.perf_counter()
    loaded = FilmstripStore(folder).load()
    load_s = time.perf_counter() - started
    assert len(loaded.pictures) == len(kept)
    print(
        f"{args.size}px: one new picture {one_s * 1000:.0f} ms; {args.count} pictures "
        f"{all_s:.2f} s, {len(kept)} kept, {on_disk / 1024**2:.1f} MB on disk; "
        f"read back at start {load_s * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the frame protocol's image formats cost at 512²: the sketch up (lossless: WebP at its
fastest effort against PNG, in colour and in grey) and the picture down (JPEG and WebP at
quality 80, PNG), encode and decode times and sizes, on the bench's stroke sketch after 30
strokes and on a photograph (the tiny model's pictures are noise-like).

    .venv/bin/python benchmarks/codecs.py
"""

from __future__ import annotations

import io
import json
import sys
import time

import numpy as np
from PIL import Image


def timed(call, repeat: int = 50) -> float:
    call()
    start = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - start) / repeat * 1000


def row(array: np.ndarray, **save) -> dict:
    def encode() -> bytes:
        out = io.BytesIO()
        Image.fromarray(array).save(out, **save)
        return out.getvalue()

    data = encode()
    decode_ms = timed(lambda: np.array(Image.open(io.BytesIO(data)).convert("RGB")))
    return {"encode_ms": timed(encode), "decode_ms": decode_ms, "kb": len(data) / 1024}


def main() -> int:
    import skimage.data

    from desktop_app.bench.common import StrokeSketch

    strokes = StrokeSketch(512)
    for _ in range(30):
        sketch = strokes.next()
    grey = np.ascontiguousarray(sketch[..., 0])
    photo = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((512, 512)))
    report = {
        "sketch": {
            "webp lossless, effort 0 (used)": row(
                sketch, format="WEBP", lossless=True, quality=0, method=0
            ),
            "png level 1": row(sketch, format="PNG", compress_level=1),
            "png level 1, grey": row(grey, format="PNG", compress_level=1),
        },
        "picture": {
            "jpeg 80 (used)": row(photo, format="JPEG", quality=80),
            "webp 80, method 0": row(photo, format="WEBP", quality=80, method=0),
            "png level 1": row(photo, format="PNG", compress_level=1),
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

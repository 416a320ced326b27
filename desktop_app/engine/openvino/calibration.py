"""What int8 is calibrated on: frames the app makes itself, from built-in sketches and prompts.

NNCF's post-training quantization measures each activation's range on sample inputs; those
should be the inputs frames really give the models, so the engine renders these requests
through its fp32 OpenVINO models once and records every forward's inputs
(``engine.OpenVinoEngine``). A handful is enough for ranges (NNCF's own examples use a few
hundred images for classifiers, but a UNet sees many positions per image).
"""

from __future__ import annotations

import numpy as np

from desktop_app.core.types import RenderRequest

PROMPTS = (
    "a lighthouse on a cliff at dusk, watercolour",
    "a cat sleeping on a windowsill, oil painting",
    "a mountain village in snow, digital art",
    "portrait of an old sailor, charcoal drawing",
    "a bowl of fruit on a table, still life",
    "a futuristic city street at night, neon lights",
)


def _ink(image: np.ndarray, mask: np.ndarray) -> None:
    image[mask] = 20


def sketches(size: int) -> list[np.ndarray]:
    """Dark lines on white: a circle, a house, a horizon with hills, a face, a grid, blank."""
    y, x = np.mgrid[0:size, 0:size] / size
    line = 3 / size
    pages = []
    for kind in ("circle", "house", "hills", "face", "grid", "blank"):
        page = np.full((size, size, 3), 255, np.uint8)
        if kind == "circle":
            _ink(page, abs(np.hypot(x - 0.5, y - 0.5) - 0.3) < line)
        elif kind == "house":
            walls = (abs(x - 0.3) < line) | (abs(x - 0.7) < line) | (abs(y - 0.85) < line)
            roof = abs(y - (0.5 - 0.8 * (0.2 - abs(x - 0.5)))) < line
            walls &= (y > 0.5) & (x > 0.28) & (x < 0.72)
            _ink(page, walls | (roof & (abs(x - 0.5) < 0.22)))
        elif kind == "hills":
            _ink(page, (abs(y - (0.6 + 0.08 * np.sin(9 * x))) < line) | (abs(y - 0.3) < line))
        elif kind == "face":
            head = abs(np.hypot(x - 0.5, (y - 0.5) * 0.8) - 0.3) < line
            eyes = (np.hypot(x - 0.4, y - 0.42) < 0.03) | (np.hypot(x - 0.6, y - 0.42) < 0.03)
            _ink(page, head | eyes | ((abs(y - 0.65) < line) & (abs(x - 0.5) < 0.1)))
        elif kind == "grid":
            _ink(page, (abs((x * 4) % 1 - 0.5) < 2 * line) | (abs((y * 4) % 1 - 0.5) < 2 * line))
        pages.append(page)
    return pages


def requests(size: int) -> list[RenderRequest]:
    """One scribble frame per sketch, each with its own prompt and seed."""
    return [
        RenderRequest(sketch=page, prompt=prompt, size=size, seed=seed)
        for seed, (page, prompt) in enumerate(zip(sketches(size), PROMPTS, strict=True))
    ]

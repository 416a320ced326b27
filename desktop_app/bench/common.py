"""What every bench uses, with numpy only (the remote bench runs where torch may not): the
sketch that changes every frame, the load average, percentiles."""

from __future__ import annotations

import math
import os

import numpy as np


class StrokeSketch:
    """Dark lines on white paper; every ``next()`` adds one more segment of a looping stroke,
    so no two frames see the same pixels (as when someone is drawing)."""

    def __init__(self, size: int):
        self.size = size
        self.image = np.full((size, size, 3), 255, np.uint8)
        self._count = 0
        margin = size // 8
        self._line((margin, margin), (size - margin, margin))  # a horizon, so frame 0 has ink
        self._last = self._point(0)

    def _point(self, k: int) -> tuple[float, float]:
        c, r = self.size / 2, self.size * 0.35
        return c + r * math.sin(0.7 * k), c + r * math.cos(0.45 * k)

    def _line(self, a: tuple[float, float], b: tuple[float, float], radius: int = 2) -> None:
        steps = max(2, int(math.dist(a, b)) + 1)
        for x, y in zip(
            np.linspace(a[0], b[0], steps), np.linspace(a[1], b[1], steps), strict=True
        ):
            xi, yi = int(x), int(y)
            self.image[max(0, yi - radius) : yi + radius, max(0, xi - radius) : xi + radius] = 20

    def next(self) -> np.ndarray:
        self._count += 1
        point = self._point(self._count)
        self._line(self._last, point)
        self._last = point
        return self.image.copy()  # the app hands the engine a snapshot, not the live canvas


def load_average() -> float | None:
    """The 1-minute load average: other processes on the machine skew CPU timings badly."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))

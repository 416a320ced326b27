"""Which size a frame is drawn at while the hand moves: the full size when this device
renders it in time, else the largest of a few smaller sizes that it does.

The choice comes from frame times measured here, per size (a running average). A size not
yet measured is estimated from the nearest measured one by its pixel count, and its first
frame corrects the estimate. A stroke's end, a new prompt and exports always get the full
size: only frames in motion are ever smaller.
"""

from __future__ import annotations

STROKE_FRAME_TARGET_MS = 250.0  # a frame in motion this slow feels behind the pen
MIN_SIZE = 128
_WEIGHT = 0.3  # of the newest frame in a size's running average
_FRACTIONS = (3 / 4, 1 / 2, 3 / 8, 1 / 4)  # a few sizes, each a graph of its own when compiled


class FrameSizes:
    def __init__(self, target_ms: float = STROKE_FRAME_TARGET_MS) -> None:
        self.target_ms = target_ms
        self._ms: dict[int, float] = {}

    def record(self, size: int, ms: float) -> None:
        old = self._ms.get(size)
        self._ms[size] = ms if old is None else (1 - _WEIGHT) * old + _WEIGHT * ms

    def estimate(self, size: int) -> float | None:
        if size in self._ms:
            return self._ms[size]
        if not self._ms:
            return None
        nearest = min(self._ms, key=lambda s: abs(s - size))
        return self._ms[nearest] * (size / nearest) ** 2

    def in_motion(self, full: int) -> int:
        """The size for a frame while drawing, ``full`` being the frame's own size."""
        estimate = self.estimate(full)
        if estimate is None or estimate <= self.target_ms:
            return full
        smaller = sorted(
            {max(MIN_SIZE, int(full * f) // 64 * 64) for f in _FRACTIONS} - {full}, reverse=True
        )
        for size in smaller:
            guess = self.estimate(size)
            if guess is not None and guess <= self.target_ms:
                return size
        return smaller[-1] if smaller else full

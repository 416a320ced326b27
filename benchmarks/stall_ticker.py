"""The benchmarks' probe of the UI thread: a precise 1 ms QTimer, whose lateness is how long
the thread was busy elsewhere (a stall). Create it once the QApplication exists."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QElapsedTimer, Qt, QTimer


class StallTicker:
    def __init__(self) -> None:
        self.gaps: list[float] = []  # milliseconds between consecutive ticks
        self._clock = QElapsedTimer()
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(1)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        self.gaps.append((now - self._last) / 1e6)
        self._last = now

    def start(self) -> None:
        self._last = self._clock.nsecsElapsed()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def stalls(self) -> np.ndarray:
        """Each gap beyond the 1 ms interval (the first gap, from start, is left out)."""
        return np.maximum(np.array(self.gaps[1:]) - 1.0, 0.0)

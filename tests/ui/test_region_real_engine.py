"""The locked picture and a selection in the window on the real engine (the tiny model loaded
from disk): what the issue promises a user, tried with the engine that makes real pictures,
not the fake: outside the region and its feather, the picture keeps every pixel."""

from __future__ import annotations

import numpy as np
from drawing import first_frame, stroke
from PySide6.QtCore import Qt

from desktop_app.core.types import DEFAULT_FEATHER_PX


class CountingEngine:
    """The real engine, counting the frames it renders and keeping their requests."""

    def __init__(self, engine) -> None:
        self._engine, self.requests = engine, []
        self.info = engine.info

    def render(self, request, should_cancel=None):
        result = self._engine.render(request, should_cancel)
        self.requests.append(request)
        return result

    def __getattr__(self, name):
        return getattr(self._engine, name)


def shown_after(qtbot, window, engine, count) -> np.ndarray:
    frames = window.controller.frames
    qtbot.waitUntil(lambda: len(engine.requests) > count, timeout=30000)
    qtbot.waitUntil(
        lambda: frames.current is not None
        and frames.current.request_id == engine.requests[-1].request_id,
        timeout=30000,
    )
    qtbot.wait(100)
    return window.preview.to_numpy()


def outside(region: np.ndarray, feather: int) -> np.ndarray:
    """Pixels farther than ``feather`` from the region (a box test: the region is a box)."""
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    keep = np.ones_like(region)
    keep[max(0, rows[0] - feather): rows[-1] + 1 + feather,
         max(0, cols[0] - feather): cols[-1] + 1 + feather] = False
    return keep


def test_a_locked_stroke_on_the_real_engine_keeps_the_far_corner(qtbot, make_window, engine):
    counting = CountingEngine(engine)
    window = make_window(counting)
    first_frame(qtbot, window)
    before = shown_after(qtbot, window, counting, 0)
    window.activateWindow()
    qtbot.keyClick(window.canvas, Qt.Key.Key_L)
    assert window.state.picture_locked
    count = len(counting.requests)
    stroke(qtbot, window.canvas, (0.1, 0.1), (0.25, 0.2))
    after = shown_after(qtbot, window, counting, count)
    request = counting.requests[-1]
    assert request.is_region_frame
    far = outside(request.region, DEFAULT_FEATHER_PX)
    assert far.any() and not far.all()
    assert np.array_equal(after[far], before[far])  # pixel for pixel
    assert np.array_equal(after[400:, 400:], before[400:, 400:])  # the far corner
    assert not np.array_equal(after[~far], before[~far])  # and the stroke's part repainted
    assert window.controller.frames.current.params.composed

"""A slow device: frames in motion come smaller (measured here), the full size follows the
stroke's end, the status bar says which, and only full-size pictures reach the filmstrip."""

from __future__ import annotations

from doubles import FakeEngine
from drawing import first_frame
from PySide6.QtCore import QPoint, Qt


def slow_engine() -> FakeEngine:
    engine = FakeEngine(delay_s=0.6)  # a 512² frame; smaller ones by their pixel count
    engine.scale_with_size = True
    return engine


def slow_stroke(qtbot, canvas, steps: int = 12) -> None:
    """A stroke drawn over ~1.5 s, as a hand draws: frames go out while it moves."""
    rect = canvas.image_rect()

    def at(f: float) -> QPoint:
        return QPoint(
            int(rect.x() + rect.width() * f), int(rect.y() + rect.height() * (0.2 + f / 2))
        )

    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(0.1))
    for i in range(1, steps + 1):
        qtbot.wait(120)
        qtbot.mouseMove(canvas, at(0.1 + 0.8 * i / steps))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(0.9))


def test_frames_in_motion_are_smaller_and_the_stroke_ends_full_size(qtbot, make_window):
    engine = slow_engine()
    window = make_window(engine)
    first_frame(qtbot, window)  # a full-size frame: 600 ms, measured
    shown = []
    window.controller.frames.result_shown.connect(
        lambda r: shown.append((r.params.size, window.status.size.text()))
    )
    slow_stroke(qtbot, window.canvas)
    frames = window.controller.frames
    qtbot.waitUntil(lambda: frames.current.params.size == 512 and len(shown) > 1, timeout=10_000)
    assert (256, "256 px while drawing") in shown  # 600 ms at 512: 256 keeps under 250 ms
    assert window.status.size.text() == "512 px"
    qtbot.waitUntil(lambda: len(window.controller.history.entries) >= 1, timeout=5000)
    assert all(e.result.params.size == 512 for e in window.controller.history.entries)


def test_without_smaller_frames_every_frame_is_full_size(qtbot, make_window):
    engine = slow_engine()
    window = make_window(engine)
    window.state.stroke_previews = False
    first_frame(qtbot, window)
    slow_stroke(qtbot, window.canvas, steps=6)
    qtbot.waitUntil(lambda: len(engine.rendered_sizes) > 2, timeout=10_000)
    assert set(engine.rendered_sizes) == {512}


def test_a_fast_device_draws_full_size_frames_in_motion(qtbot, make_window):
    engine = FakeEngine(delay_s=0.05)
    window = make_window(engine)
    first_frame(qtbot, window)
    slow_stroke(qtbot, window.canvas, steps=6)
    qtbot.waitUntil(lambda: len(engine.rendered_sizes) > 3, timeout=10_000)
    assert set(engine.rendered_sizes) == {512}

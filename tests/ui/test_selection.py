"""Selections and the locked picture in the window (fake engine): the tools and their keys,
region frames of the selection, what a stroke with the picture locked repaints, undo, the
autosave and exports that open again."""

from __future__ import annotations

import numpy as np
import pytest
from doubles import FakeEngine
from drawing import first_frame, stroke
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from desktop_app.app.drawing_file import open_file
from desktop_app.app.region_frames import context_margin
from desktop_app.core.metadata import COMPOSED_KEY, read_parameters


class RecordingEngine(FakeEngine):
    """The fake engine, keeping every request it renders."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.requests = []

    def render(self, request, should_cancel=None):
        result = super().render(request, should_cancel)
        self.requests.append(request)
        return result


def at(canvas, fx, fy) -> QPoint:
    rect = canvas.image_rect()
    return QPoint(int(rect.x() + rect.width() * fx), int(rect.y() + rect.height() * fy))


def drag(qtbot, canvas, points) -> None:
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, at(canvas, *point))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, *points[-1]))


def key(qtbot, window, sequence, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    qtbot.keyClick(window.canvas, sequence, modifier)


def settled(qtbot, window, engine, count) -> np.ndarray:
    """The picture once the engine has rendered more than ``count`` frames and it is shown."""
    frames = window.controller.frames
    qtbot.waitUntil(lambda: len(engine.requests) > count, timeout=5000)
    qtbot.waitUntil(
        lambda: frames.current is not None
        and frames.current.request_id == engine.requests[-1].request_id,
        timeout=5000,
    )
    qtbot.wait(50)  # nothing more on its way
    return frames.current.image.copy()


def select_rectangle(qtbot, window, corner=(0.1, 0.1), other=(0.5, 0.5)) -> None:
    key(qtbot, window, Qt.Key.Key_M)
    assert window.selecting.rectangle_action.isChecked()
    drag(qtbot, window.canvas, [corner, ((corner[0] + other[0]) / 2, corner[1]), other])


def brush(qtbot, window) -> None:
    key(qtbot, window, Qt.Key.Key_B)
    assert window.canvas.tool == "brush" and not window.selecting.rectangle_action.isChecked()


def test_a_rectangle_selection_makes_every_frame_a_region_frame(qtbot, make_window):
    engine = RecordingEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    before = settled(qtbot, window, engine, 0)
    strokes_before = window.canvas.to_numpy()
    select_rectangle(qtbot, window)
    selection = window.controller.regions.selection
    assert selection is not None
    assert window.canvas.to_numpy().tobytes() == strokes_before.tobytes()  # no stroke drawn
    mask = selection.mask
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert abs(rows[0] - 51) <= 2 and abs(rows[-1] - 256) <= 2
    assert abs(cols[0] - 51) <= 2 and abs(cols[-1] - 256) <= 2
    assert window.selecting.canvas_ants.marching and window.selecting.picture_ants.marching

    brush(qtbot, window)
    count = len(engine.requests)
    stroke(qtbot, window.canvas, (0.05, 0.3), (0.95, 0.35))  # across the selection's edge
    after = settled(qtbot, window, engine, count)
    request = engine.requests[-1]
    assert request.is_region_frame and request.size == 512
    assert np.array_equal(request.region, mask)
    assert np.array_equal(request.keep, before)
    assert np.array_equal(after[~mask], before[~mask])  # outside the selection: as it was
    assert not np.array_equal(after[mask], before[mask])  # inside: the stroke shows
    assert np.array_equal(after[400:, 400:], before[400:, 400:])  # the far corner


def test_select_all_and_the_three_ways_to_deselect(qtbot, make_window):
    window = make_window(FakeEngine())
    regions = window.controller.regions
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    for deselect in ((Qt.Key.Key_D, ctrl), (Qt.Key.Key_A, ctrl | shift),
                     (Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier)):
        key(qtbot, window, Qt.Key.Key_A, ctrl)
        assert regions.selection is not None and regions.selection.mask.all()
        ants = window.selecting.canvas_ants
        offset = ants.dash_offset
        qtbot.waitUntil(lambda a=ants, o=offset: a.dash_offset != o, timeout=2000)  # they march
        key(qtbot, window, *deselect)
        assert regions.selection is None
    assert not window.selecting.canvas_ants.marching


def test_selecting_and_deselecting_are_undo_steps(qtbot, make_window):
    window = make_window(FakeEngine())
    regions, stack = window.controller.regions, window.canvas.undo_stack
    select_rectangle(qtbot, window)
    first = regions.selection
    select_rectangle(qtbot, window, (0.6, 0.6), (0.9, 0.8))
    second = regions.selection
    assert first is not None and second is not None and first != second
    window.selecting.deselect()
    window.undo_action.trigger()
    assert regions.selection == second
    window.undo_action.trigger()
    assert regions.selection == first
    window.undo_action.trigger()
    assert regions.selection is None
    window.redo_action.trigger()
    assert regions.selection == first
    assert stack.count() == 3


def test_an_empty_selection_or_one_outside_the_page_is_no_selection(qtbot, make_window):
    window = make_window(FakeEngine())
    regions = window.controller.regions
    key(qtbot, window, Qt.Key.Key_Q)
    assert window.selecting.lasso_action.isChecked()
    drag(qtbot, window.canvas, [(0.2, 0.2), (0.6, 0.25), (0.5, 0.7), (0.25, 0.6)])
    lasso = regions.selection
    assert lasso is not None and 0.05 < lasso.mask.mean() < 0.3
    drag(qtbot, window.canvas, [(0.3, 0.3), (0.3, 0.3)])  # a click: deselects
    assert regions.selection is None
    key(qtbot, window, Qt.Key.Key_M)
    drag(qtbot, window.canvas, [(-0.4, 0.2), (-0.1, 0.8)])  # left of the page
    assert regions.selection is None
    assert window.canvas.undo_stack.count() == 2  # the lasso, and its deselect


def test_with_the_picture_locked_a_stroke_repaints_only_its_neighbourhood(qtbot, make_window):
    engine = RecordingEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    before = settled(qtbot, window, engine, 0)
    key(qtbot, window, Qt.Key.Key_L)
    assert window.state.picture_locked and window.selecting.lock_action.isChecked()
    count = len(engine.requests)
    window.state.seed = 777  # another seed repaints nothing while the picture is locked...
    qtbot.wait(300)
    assert len(engine.requests) == count
    assert np.array_equal(window.controller.frames.current.image, before)

    stroke(qtbot, window.canvas, (0.1, 0.1), (0.25, 0.15))
    after = settled(qtbot, window, engine, count)
    request = engine.requests[-1]
    assert request.is_region_frame and request.seed == 777
    changed = np.any(window.canvas.to_numpy() != 255, axis=2)
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    margin = context_margin(512, 512)
    region = request.region
    assert region[rows[0], cols[0]] and region[rows[-1], cols[-1]]
    assert not region[: max(0, rows[0] - margin - 1)].any()
    assert not region[rows[-1] + margin + 1:].any() and not region[:, cols[-1] + margin + 1:].any()
    # ...but the new seed where the stroke is, the old picture everywhere else.
    assert np.array_equal(after[~region], before[~region])
    assert np.array_equal(after[400:, 400:], before[400:, 400:])
    assert not np.array_equal(after[region], before[region])
    history = window.controller.history  # the filmstrip keeps the whole composed picture
    qtbot.waitUntil(lambda: bool(history.entries)
                    and history.entries[0].result is window.controller.frames.current,
                    timeout=5000)
    assert np.array_equal(history.entries[0].result.image, after)
    window.controller.frames.generate()  # nothing changed: nothing to repaint, and it says so
    assert "The picture is locked" in window.statusBar().currentMessage()

    count = len(engine.requests)
    window.undo_action.trigger()
    qtbot.wait(300)
    assert np.array_equal(window.controller.frames.current.image, before)
    assert np.array_equal(window.preview.to_numpy(), before)  # pixel for pixel
    assert len(engine.requests) == count  # brought back, not repainted


def test_a_locked_picture_within_a_selection_repaints_their_intersection(qtbot, make_window):
    engine = RecordingEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    settled(qtbot, window, engine, 0)
    select_rectangle(qtbot, window, (0.0, 0.0), (0.5, 1.0))
    brush(qtbot, window)
    key(qtbot, window, Qt.Key.Key_L)
    count = len(engine.requests)
    stroke(qtbot, window.canvas, (0.3, 0.5), (0.7, 0.5))
    settled(qtbot, window, engine, count)
    region = engine.requests[-1].region
    selection = window.controller.regions.selection.mask
    assert region.any() and not (region & ~selection).any()
    assert not region[:150].any()  # only the stroke's neighbourhood, not all the selection


def test_the_selection_and_the_lock_survive_a_restart(qtbot, make_window):
    window = make_window(FakeEngine())
    select_rectangle(qtbot, window, (0.2, 0.3), (0.6, 0.7))
    window.state.picture_locked = True
    selection = window.controller.regions.selection
    with qtbot.waitSignal(window.closed, timeout=5000):
        window.quit_action.trigger()

    again = make_window(FakeEngine(), start=False)
    assert again.controller.regions.selection == selection
    assert again.state.picture_locked and again.selecting.lock_action.isChecked()
    assert again.selecting.canvas_ants.marching
    assert not again.restore_banner.isVisible()


def test_a_composed_export_opens_with_its_picture_and_selection(qtbot, make_window, tmp_path):
    engine = RecordingEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    settled(qtbot, window, engine, 0)
    select_rectangle(qtbot, window)
    brush(qtbot, window)
    count = len(engine.requests)
    stroke(qtbot, window.canvas, (0.2, 0.2), (0.4, 0.3))
    shown = settled(qtbot, window, engine, count)
    assert window.controller.frames.current.params.composed
    with qtbot.waitSignal(window.controller.exports.export_finished, timeout=5000) as done:
        window.export_action.trigger()
    path = done.args[0]
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), shown)  # as shown
    with Image.open(path) as image:
        assert COMPOSED_KEY in image.text
    assert read_parameters(path).startswith(window.state.prompt)  # A1111's line as ever
    opened = open_file(path)
    assert np.array_equal(opened.picture, shown) and opened.picture_params.composed

    again_engine = RecordingEngine()
    again = make_window(again_engine, data_dir=tmp_path / "again")
    first_frame(qtbot, again)
    again.open_file(path)
    frames = again.controller.frames
    qtbot.waitUntil(lambda: np.array_equal(again.preview.to_numpy(), shown), timeout=5000)
    assert again.controller.regions.selection == window.controller.regions.selection
    assert again.state.picture_locked
    count = len(again_engine.requests)
    qtbot.wait(300)
    assert np.array_equal(frames.current.image, shown)  # nothing repainted it
    stroke(qtbot, again.canvas, (0.3, 0.35), (0.45, 0.4))
    settled(qtbot, again, again_engine, count)
    request = again_engine.requests[-1]
    assert request.is_region_frame and np.array_equal(request.keep, shown)


@pytest.mark.parametrize("stroke_previews", [True])
def test_region_frames_are_never_the_smaller_frames_in_motion(qtbot, make_window, stroke_previews):
    engine = RecordingEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    settled(qtbot, window, engine, 0)
    sizes = window.controller.frames.sizes
    sizes.record(512, 5000.0)  # a slow device: frames in motion would be smaller
    window.state.stroke_previews = stroke_previews
    key(qtbot, window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    count = len(engine.requests)
    window.controller.frames.request_frame(in_motion=True)
    settled(qtbot, window, engine, count)
    assert engine.requests[-1].size == 512 and engine.requests[-1].is_region_frame


def test_with_the_picture_locked_undo_of_a_clear_brings_the_picture_back(qtbot, make_window):
    engine = RecordingEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    settled(qtbot, window, engine, 0)
    stroke(qtbot, window.canvas, (0.3, 0.3), (0.6, 0.4))
    drawn = settled(qtbot, window, engine, 1)
    window.state.picture_locked = True
    count = len(engine.requests)
    window.clear_action.trigger()
    cleared = settled(qtbot, window, engine, count)
    assert engine.requests[-1].is_region_frame
    assert np.array_equal(cleared[450:, :], drawn[450:, :])  # far from the lines: kept
    count = len(engine.requests)
    window.undo_action.trigger()
    qtbot.wait(300)
    assert np.array_equal(window.preview.to_numpy(), drawn) and len(engine.requests) == count

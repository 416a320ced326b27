"""The reference layer: an image under the strokes, apart from them, whose lines and colours
the picture follows, kept with the sketch."""

from __future__ import annotations

import numpy as np
import pytest
from doubles import FakeEngine
from drawing import first_frame, stroke
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from desktop_app.app import engine_api


@pytest.fixture
def photo(tmp_path):
    """A photo: green on the left half, red on the right, a black bar across."""
    image = np.zeros((300, 300, 3), np.uint8)
    image[:, :150] = (0, 180, 0)
    image[:, 150:] = (200, 0, 0)
    image[140:160] = 0
    path = tmp_path / "photo.png"
    Image.fromarray(image).save(path)
    return path


@pytest.fixture
def lines(monkeypatch):
    """The worker's line art, made predictable: a dark cross on white."""
    made = []

    def lineart(image):
        made.append(image.shape)
        out = np.full_like(image, 255)
        out[image.shape[0] // 2, :] = 0
        out[:, image.shape[1] // 2] = 0
        return out

    monkeypatch.setattr(engine_api, "lineart_from_photo", lineart)
    return made


def test_a_reference_goes_under_the_strokes_and_undo_takes_it_away(
    qtbot, make_window, photo, lines
):
    window = make_window(FakeEngine())
    first_frame(qtbot, window)
    canvas = window.canvas
    stroke(qtbot, canvas)
    strokes = canvas.to_numpy()
    window.import_image(str(photo))
    assert canvas.reference.image is not None and window.reference_bar.isVisible()
    assert np.array_equal(canvas.to_numpy(), strokes)  # the strokes are untouched
    qtbot.waitUntil(lambda: canvas.reference.lines is not None, timeout=5000)
    control = canvas.drawing().lines()
    assert (control[256, :] < 128).all()  # the reference's line joins the strokes
    assert np.array_equal(np.minimum(control, strokes), control)
    canvas.undo_stack.undo()
    assert canvas.reference.image is None and not window.reference_bar.isVisible()
    assert np.array_equal(canvas.drawing().lines(), strokes)
    canvas.undo_stack.redo()
    assert canvas.reference.image is not None


def test_erasing_and_clearing_touch_the_strokes_only(qtbot, make_window, photo, lines):
    window = make_window(FakeEngine(), start=False)
    canvas = window.canvas
    window.import_image(str(photo))
    reference = canvas.reference.rgb().copy()
    window.set_tool("eraser")
    stroke(qtbot, canvas)
    canvas.clear()
    assert np.array_equal(canvas.reference.rgb(), reference)
    window.reference_bar.remove.click()
    assert canvas.reference.image is None
    canvas.undo_stack.undo()  # removing was one step too
    assert np.array_equal(canvas.reference.rgb(), reference)


def test_colour_mode_starts_from_the_reference_colours(qtbot, make_window, photo, lines):
    engine = FakeEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    window.state.mode = "colour"
    window.state.reference_opacity = 1.0
    window.import_image(str(photo))
    frames = window.controller.frames
    qtbot.waitUntil(lambda: frames.current.params.mode == "colour", timeout=5000)
    colours = window.canvas.drawing().colours()

    def from_the_colours() -> bool:  # the fake engine draws colour mode from its colours
        request = frames.current.request_id
        return request in engine.rendered and not np.array_equal(
            frames.current.image[100, 100], frames.current.image[100, 400]
        )

    qtbot.waitUntil(from_the_colours, timeout=5000)
    assert tuple(colours[100, 100]) == (0, 180, 0) and tuple(colours[100, 400]) == (200, 0, 0)
    window.state.reference_visible = False  # hidden: the strokes are the colours again
    assert window.canvas.drawing().colours() is None


def test_opacity_visibility_and_lines_follow_the_bar(qtbot, make_window, photo, lines):
    window = make_window(FakeEngine(), start=False)
    canvas, bar = window.canvas, window.reference_bar
    window.import_image(str(photo))
    qtbot.waitUntil(lambda: canvas.reference.lines is not None, timeout=5000)
    bar.opacity.setValue(25)
    assert canvas.reference.opacity == pytest.approx(0.25)
    bar.lines.setChecked(False)
    assert np.array_equal(canvas.drawing().lines(), canvas.to_numpy())
    bar.visible.setChecked(False)
    assert not canvas.reference.shown and window.state.reference_visible is False


def test_the_reference_is_autosaved_and_restored(qtbot, make_window, photo, lines, tmp_path):
    window = make_window(FakeEngine(), start=False)
    window.state.reference_opacity = 0.3
    window.import_image(str(photo))
    reference = window.canvas.reference.rgb().copy()
    window.controller.session.save_soon_now()
    window.controller.session.wait()
    again = make_window(FakeEngine(), start=False)  # the same data folder: a restart
    assert np.array_equal(again.canvas.reference.rgb(), reference)
    assert again.state.reference_opacity == pytest.approx(0.3)
    assert again.reference_bar.isVisible()
    again.canvas.remove_reference()
    again.controller.session.save_soon_now()
    again.controller.session.wait()
    third = make_window(FakeEngine(), start=False)
    assert third.canvas.reference.image is None  # a removed reference does not come back


def _drop(canvas, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    canvas.dropEvent(event)


def test_a_dropped_image_becomes_the_reference_and_anything_else_is_said(
    qtbot, make_window, photo, lines, tmp_path
):
    window = make_window(FakeEngine(), start=False)
    _drop(window.canvas, photo)
    assert window.canvas.reference.image is not None
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    huge = tmp_path / "huge.png"
    Image.new("1", (20000, 20000)).save(huge)
    before = window.canvas.reference.rgb().copy()
    for path, words in ((text, "cannot be read as an image"), (huge, "larger than a sketch")):
        _drop(window.canvas, path)
        message = window.error_banner.text()
        assert message.startswith(path.name) and words in message and "\n" not in message
        assert np.array_equal(window.canvas.reference.rgb(), before)  # nothing changed
        assert window.canvas.undo_stack.count() == 1

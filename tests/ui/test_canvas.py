"""The sketch canvas: strokes change pixels, undo/redo restore them exactly."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage

from desktop_app.ui.canvas import SketchCanvas


def make_canvas(qtbot, size=256) -> SketchCanvas:
    canvas = SketchCanvas(size)
    qtbot.addWidget(canvas)
    canvas.resize(size, size)  # one widget pixel per image pixel
    canvas.show()
    qtbot.waitExposed(canvas)
    return canvas


def drag(qtbot, canvas, points):
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, QPoint(*point))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(*points[-1]))


def test_a_stroke_draws_and_undo_redo_restore_exactly(qtbot):
    canvas = make_canvas(qtbot)
    blank = canvas.to_numpy()
    assert (blank == 255).all()
    drag(qtbot, canvas, [(20, 20), (120, 40), (200, 200)])
    drawn = canvas.to_numpy()
    assert (drawn < 128).any()
    # a fast pointer still leaves a continuous line: the midpoint of a long segment is inked
    assert (drawn[28:33, 68:73] < 128).any()
    assert canvas.undo_stack.count() == 1  # one command per stroke
    canvas.undo_stack.undo()
    assert np.array_equal(canvas.to_numpy(), blank)
    canvas.undo_stack.redo()
    assert np.array_equal(canvas.to_numpy(), drawn)


def test_eraser_and_clear_are_undoable(qtbot):
    canvas = make_canvas(qtbot)
    canvas.brush_size = 12
    drag(qtbot, canvas, [(30, 128), (220, 128)])
    drawn = canvas.to_numpy()
    canvas.tool = "eraser"
    canvas.brush_size = 30
    drag(qtbot, canvas, [(100, 128), (150, 128)])
    erased = canvas.to_numpy()
    assert (erased[128, 110:140] == 255).all() and (erased[128, 40:60] < 128).any()
    canvas.clear()
    assert (canvas.to_numpy() == 255).all()
    canvas.undo_stack.undo()
    assert np.array_equal(canvas.to_numpy(), erased)
    canvas.undo_stack.undo()
    assert np.array_equal(canvas.to_numpy(), drawn)


def test_brush_colour_and_pressure(qtbot):
    canvas = make_canvas(qtbot)
    canvas.brush_colour = QColor(255, 0, 0)
    canvas.brush_size = 20
    canvas.begin_stroke(QPoint(50, 50), pressure=1.0)
    canvas.continue_stroke(QPoint(50, 150), pressure=1.0)
    canvas.end_stroke()
    canvas.begin_stroke(QPoint(150, 50), pressure=0.2)
    canvas.continue_stroke(QPoint(150, 150), pressure=0.2)
    canvas.end_stroke()
    pixels = canvas.to_numpy()
    assert tuple(pixels[100, 50]) == (255, 0, 0)
    full = (pixels[100, 30:70, 1] < 128).sum()
    light = (pixels[100, 130:170, 1] < 128).sum()
    assert light < full


def test_the_undo_history_is_deep_enough(qtbot):
    canvas = make_canvas(qtbot, 128)
    assert canvas.undo_stack.undoLimit() >= 100
    for n in range(105):
        canvas.begin_stroke(QPoint(n % 120, 5))
        canvas.end_stroke()
    assert canvas.undo_stack.count() >= 100


def test_paste_and_load_fit_the_image(qtbot):
    canvas = make_canvas(qtbot, 128)
    photo = QImage(64, 32, QImage.Format.Format_RGB32)
    photo.fill(QColor(0, 0, 255))
    canvas.paste_image(photo)
    pixels = canvas.to_numpy()
    assert tuple(pixels[64, 64]) == (0, 0, 255) and tuple(pixels[5, 64]) == (255, 255, 255)
    canvas.undo_stack.undo()
    assert (canvas.to_numpy() == 255).all()
    array = np.zeros((128, 128, 3), np.uint8)
    canvas.load_array(array)
    assert (canvas.to_numpy() == 0).all() and canvas.undo_stack.count() == 0


def test_strokes_report_changes(qtbot):
    canvas = make_canvas(qtbot)
    seen = []
    canvas.content_changed.connect(seen.append)
    with qtbot.waitSignal(canvas.stroke_finished):
        drag(qtbot, canvas, [(10, 10), (50, 50)])
    assert True in seen and seen[-1] is False

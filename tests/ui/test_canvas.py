"""The sketch canvas: strokes change pixels, undo/redo restore them exactly."""

from __future__ import annotations

import gc

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage

from desktop_app.ui.canvas import UNDO_BYTES_LIMIT, SketchCanvas


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


def random_strokes(canvas, count, seed=0, full_canvas=False, colours=True):
    """``count`` random polylines (sizes, pressures, some eraser; random colours or black) in
    widget coordinates; with ``full_canvas`` each runs corner to corner: a whole-page patch."""
    rng = np.random.default_rng(seed)
    side = canvas.image().width()
    for _ in range(count):
        canvas.tool = "eraser" if rng.random() < 0.2 else "brush"
        canvas.brush_size = int(rng.integers(2, 25))
        rgb = rng.integers(0, 256, 3) if colours else (0, 0, 0)
        canvas.brush_colour = QColor(*(int(v) for v in rgb))
        points = [QPointF(*rng.uniform(0, side, 2)) for _ in range(10)]
        if full_canvas:
            points = [QPointF(0, 0), *points, QPointF(side - 1, side - 1)]
        canvas.begin_stroke(points[0], pressure=float(rng.uniform(0.3, 1.0)))
        for point in points[1:]:
            canvas.continue_stroke(point, pressure=float(rng.uniform(0.3, 1.0)))
        canvas.end_stroke()


def test_undo_and_redo_restore_exact_pixels_over_many_strokes(qtbot):
    canvas = make_canvas(qtbot)
    states = [canvas.to_numpy()]
    for n in range(8):
        random_strokes(canvas, 1, seed=n, full_canvas=n % 2 == 0)
        states.append(canvas.to_numpy())
        if n == 4:
            canvas.clear()
            states.append(canvas.to_numpy())
    assert canvas.undo_stack.count() == len(states) - 1
    assert all(not np.array_equal(a, b) for a, b in zip(states[:-1], states[1:], strict=True))
    for expected in reversed(states[:-1]):
        canvas.undo_stack.undo()
        assert np.array_equal(canvas.to_numpy(), expected)
    for expected in states[1:]:
        canvas.undo_stack.redo()
        assert np.array_equal(canvas.to_numpy(), expected)


def test_the_undo_history_is_bounded_in_bytes(qtbot):
    canvas = make_canvas(qtbot, 512)
    raw_step = 2 * 512 * 512 * 4  # a full-page stroke's two uncompressed patches: 2 MB
    # Black line art: compression keeps (nearly) the whole history in far less than raw.
    random_strokes(canvas, 300, seed=1, full_canvas=True, colours=False)
    assert canvas.undo_stack.count() >= 100
    assert 0 < canvas.undo_bytes() <= UNDO_BYTES_LIMIT < 20 * 1024 * 1024
    assert canvas.undo_bytes() < canvas.undo_stack.count() * raw_step / 10
    # Many-coloured strokes compress worse: the oldest steps go, the bytes stay bounded and
    # every step kept still undoes and redoes exactly.
    canvas.clear()
    states = []
    for n in range(100):
        random_strokes(canvas, 1, seed=100 + n, full_canvas=True)
        states.append(canvas.to_numpy())
        assert canvas.undo_bytes() <= UNDO_BYTES_LIMIT
    kept = canvas.undo_stack.count()
    assert 5 < kept < 100  # trimmed by bytes, well before the count limit
    for back in range(1, kept):
        canvas.undo_stack.undo()
        assert np.array_equal(canvas.to_numpy(), states[-1 - back])
    canvas.undo_stack.undo()
    assert not canvas.undo_stack.canUndo()
    for expected in states[len(states) - kept :]:
        canvas.undo_stack.redo()
        assert np.array_equal(canvas.to_numpy(), expected)


def test_no_page_copies_or_raw_patches_outlive_a_stroke(qtbot):
    def live_images():
        gc.collect()
        return sum(isinstance(obj, QImage) for obj in gc.get_objects())

    canvas = make_canvas(qtbot)
    random_strokes(canvas, 2, seed=7)
    before = live_images()
    random_strokes(canvas, 40, seed=8, full_canvas=True)
    canvas.clear()
    for _ in range(5):
        canvas.undo_stack.undo()
    canvas.undo_stack.redo()
    assert canvas.undo_stack.count() == 42 + 1
    # the history holds compressed bytes only: no QImage per step, no page copy per stroke
    assert live_images() <= before


def test_a_smaller_autosaved_sketch_keeps_its_pixel_size(qtbot):
    canvas = make_canvas(qtbot, 512)
    canvas.begin_stroke(QPointF(10, 10))
    canvas.end_stroke()
    sketch = np.full((200, 300, 3), 255, np.uint8)  # 300 wide, 200 high, 1-px black border
    sketch[0, :] = sketch[-1, :] = sketch[:, 0] = sketch[:, -1] = 0
    canvas.load_array(sketch)
    dark = (canvas.to_numpy() < 128).all(axis=2)
    rows, cols = np.nonzero(dark)
    top, left = (512 - 200) // 2, (512 - 300) // 2
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (top, top + 199, left, left + 299)
    expected = np.zeros((512, 512), bool)
    expected[top : top + 200, left : left + 300] = sketch[:, :, 0] == 0
    assert np.array_equal(dark, expected)  # placed 1:1: the border is exactly one pixel
    assert canvas.undo_stack.count() == 0
    canvas.paste_array(sketch)  # an import still fills the page, aspect kept (512 x 341)
    rows, cols = np.nonzero((canvas.to_numpy() < 128).all(axis=2))
    assert cols.max() - cols.min() > 500 and 330 < rows.max() - rows.min() < 350


def test_a_larger_autosaved_sketch_is_scaled_down_to_fit(qtbot):
    canvas = make_canvas(qtbot, 512)
    sketch = np.full((1024, 1024, 3), 255, np.uint8)
    sketch[:, :512] = 0  # left half black
    canvas.load_array(sketch)
    pixels = canvas.to_numpy()
    assert (pixels[:, :250] == 0).all() and (pixels[:, 262:] == 255).all()
    wide = np.zeros((200, 800, 3), np.uint8)  # wider than the page: 512 x 128, centred
    canvas.load_array(wide)
    dark = (canvas.to_numpy() < 128).all(axis=2)
    rows, cols = np.nonzero(dark)
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (192, 320, 0, 512)
    assert canvas.undo_stack.count() == 0

"""A pen on the canvas: its eraser end erases, no tablet event is lost while a frame renders,
and a stroke repaints only where it changed."""

from __future__ import annotations

from doubles import FakeEngine
from drawing import first_frame
from pen_events import stroke_events
from PySide6.QtCore import QCoreApplication, QRect
from PySide6.QtGui import QPointingDevice
from test_canvas import make_canvas

ERASER = QPointingDevice.PointerType.Eraser


def send(canvas, events) -> None:
    for event in events:
        QCoreApplication.sendEvent(canvas, event)


def test_the_pens_eraser_end_erases_whatever_the_tool(qtbot):
    canvas = make_canvas(qtbot)
    canvas.brush_size = 12
    send(canvas, stroke_events([(30, 128), (120, 128), (220, 128)]))
    assert (canvas.to_numpy()[128, 40:210] < 128).all()
    assert canvas.tool == "brush"
    send(canvas, stroke_events([(20, 128), (120, 128), (235, 128)], end=ERASER))
    assert (canvas.to_numpy()[120:137, 20:235] == 255).all()
    assert canvas.tool == "brush"  # the tool is untouched: the next tip stroke draws
    send(canvas, stroke_events([(30, 60), (220, 60)]))
    assert (canvas.to_numpy()[60, 40:210] < 128).all()
    canvas.undo_stack.undo()
    canvas.undo_stack.undo()  # the erasing is one undoable stroke
    assert (canvas.to_numpy()[128, 40:210] < 128).all()


def test_no_tablet_event_is_lost_while_a_frame_renders(qtbot, make_window):
    engine = FakeEngine(delay_s=0.3)
    window = make_window(engine)
    first_frame(qtbot, window)
    canvas = window.canvas
    rect = canvas.image_rect()
    points = [
        (rect.x() + rect.width() * (0.1 + 0.8 * i / 199), rect.y() + rect.height() * 0.5)
        for i in range(200)
    ]
    seen = []
    original = canvas.continue_stroke
    canvas.continue_stroke = lambda pos, pressure=1.0: (seen.append(pos), original(pos, pressure))
    engine.started.clear()
    for event in stroke_events(points):  # queued as a pen's driver queues them
        QCoreApplication.postEvent(canvas, event.clone())
    qtbot.waitUntil(lambda: len(seen) == 199 and canvas.undo_stack.count() == 1, timeout=10_000)
    assert engine.started.is_set()  # frames rendered meanwhile
    drawn = canvas.to_numpy()
    for x, y in points[1:]:  # every point the pen passed is inked
        point = canvas.to_image_point(type(seen[0])(x, y))
        assert drawn[int(point.y()), int(point.x())].max() < 128


def test_a_stroke_repaints_only_where_it_changed(qtbot):
    canvas = make_canvas(qtbot, size=512)
    canvas.resize(512, 512)
    updates: list[QRect] = []
    canvas.update = lambda *args: updates.append(QRect(*args) if args else canvas.rect())
    send(canvas, stroke_events([(100, 100), (104, 102), (108, 104)]))
    moves = updates[1:]  # the press paints a dot; each move, a segment
    assert moves and all(r.width() < 60 and r.height() < 60 for r in moves), moves

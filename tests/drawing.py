"""Drawing in a window as a person does (mouse events on the canvas), and waiting for the
picture that follows."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt


def stroke(qtbot, canvas, start=(0.2, 0.2), end=(0.7, 0.6)):
    rect = canvas.image_rect()

    def at(fx, fy):
        return QPoint(int(rect.x() + rect.width() * fx), int(rect.y() + rect.height() * fy))

    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(*start))
    for i in range(1, 6):
        f = i / 5
        qtbot.mouseMove(canvas, at(start[0] + (end[0] - start[0]) * f,
                                   start[1] + (end[1] - start[1]) * f))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(*end))


def first_frame(qtbot, window):
    qtbot.waitUntil(lambda: not window.preview.image().isNull(), timeout=5000)
    return window.preview.to_numpy()

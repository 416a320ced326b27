"""The selection tools on the canvas: a rectangle (drag from corner to corner) and a freehand
lasso (drag around; the outline closes itself). While one is the tool, the canvas's mouse
events are the tool's (no stroke is drawn); a pen's events come as the mouse events Qt makes
of them. A drag that encloses no pixel of the page (a click) selects nothing: ``selected``
is told None, as for a deselect.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QMouseEvent

from desktop_app.app.selection import Selection
from desktop_app.ui.canvas import SketchCanvas
from desktop_app.ui.selection_overlay import SelectionOverlay

TOOLS = ("rectangle", "lasso")
LASSO_STEP_PX = 1.5  # a lasso point closer than this (page pixels) to the last adds nothing
_MOUSE = (
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.MouseButtonRelease,
    QEvent.Type.MouseButtonDblClick,
)
_TABLET = (QEvent.Type.TabletPress, QEvent.Type.TabletMove, QEvent.Type.TabletRelease)


class SelectionTool(QObject):
    def __init__(
        self,
        canvas: SketchCanvas,
        overlay: SelectionOverlay,
        selected: Callable[[Selection | None], None],
    ) -> None:
        super().__init__(canvas)
        self.canvas, self.overlay, self.selected = canvas, overlay, selected
        self.kind: str | None = None  # one of TOOLS while a selection tool is the tool
        self._points: list[tuple[float, float]] = []
        canvas.installEventFilter(self)

    def use(self, kind: str | None) -> None:
        """``kind`` (one of TOOLS) as the tool, or None: the brush or eraser."""
        if kind is not None and kind not in TOOLS:
            raise ValueError(f"unknown selection tool {kind!r}")
        if kind is not None and self.kind is None:
            self.canvas.end_stroke()
            # The brush outline is not this tool's: hide it as when the pointer leaves.
            self.canvas.leaveEvent(QEvent(QEvent.Type.Leave))
        self.kind = kind
        self._cancel_draft()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if self.kind is None or watched is not self.canvas:
            return False
        kind = event.type()
        if kind in _TABLET:
            event.ignore()  # Qt makes mouse events of it, which come back here
            return True
        if kind not in _MOUSE or not isinstance(event, QMouseEvent):
            return False
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._points = [self._page_point(event.position())]
        elif kind == QEvent.Type.MouseMove and self._points:
            self._extend(self._page_point(event.position()))
        elif kind == QEvent.Type.MouseButtonRelease and self._points:
            self._extend(self._page_point(event.position()))
            self._finish()
        return True

    def _page_point(self, pos: QPointF) -> tuple[float, float]:
        point = self.canvas.to_image_point(pos)
        return (point.x(), point.y())

    def _extend(self, point: tuple[float, float]) -> None:
        if self.kind == "rectangle":
            self._points = [self._points[0], point]
        else:
            last = self._points[-1]
            if abs(point[0] - last[0]) + abs(point[1] - last[1]) < LASSO_STEP_PX:
                return
            self._points.append(point)
        self.overlay.show_draft(self._outline(), *self._page())

    def _outline(self) -> list[tuple[float, float]]:
        if self.kind == "rectangle" and len(self._points) == 2:
            (x0, y0), (x1, y1) = self._points
            return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        return list(self._points)

    def _page(self) -> tuple[int, int]:
        image = self.canvas.image()
        return image.width(), image.height()

    def _finish(self) -> None:
        outline = self._outline()
        self._cancel_draft()
        self.selected(Selection.make(outline, *self._page()))

    def _cancel_draft(self) -> None:
        self._points = []
        self.overlay.show_draft(None, *self._page())

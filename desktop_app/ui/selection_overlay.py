"""Marching ants: the selection's outline, drawn over an image view (the canvas, the picture)
as a dashed line whose dashes move, black on white so that it shows on any picture.

The overlay is a child widget that covers its view and lets every mouse event through; it
maps the outline from page pixels to where the view draws its image. The dashes step every
ANTS_INTERVAL_MS, and only while there is an outline: only the outline's box is repainted.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen, QPolygonF, QTransform
from PySide6.QtWidgets import QWidget

from desktop_app.app.selection import Selection
from desktop_app.ui.image_view import ImageView

ANTS_INTERVAL_MS = 120
DASH = 4  # dash and gap, in pen widths


class SelectionOverlay(QWidget):
    def __init__(self, view: ImageView) -> None:
        super().__init__(view)
        self.view = view
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.selection: Selection | None = None
        # An outline being drawn: (points in page pixels, the page's width and height).
        self._draft: tuple[list[tuple[float, float]], int, int] | None = None
        self._offset = 0
        self._painted = QRect()
        self._timer = QTimer(self, interval=ANTS_INTERVAL_MS)
        self._timer.timeout.connect(self._march)
        view.installEventFilter(self)
        self.setGeometry(view.rect())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.view and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.view.rect())
        return False

    def show_selection(self, selection: Selection | None) -> None:
        self.selection = selection
        self._changed()

    def show_draft(self, points: list[tuple[float, float]] | None, width: int, height: int) -> None:
        """An outline being drawn (None: no longer)."""
        self._draft = (list(points), width, height) if points else None
        self._changed()

    @property
    def marching(self) -> bool:
        return self._timer.isActive()

    @property
    def dash_offset(self) -> int:
        return self._offset

    def _changed(self) -> None:
        if self.selection is not None or self._draft is not None:
            self.raise_()
            self._timer.start()
        else:
            self._timer.stop()
        self.update(self._painted | self._outline_rect())

    def _march(self) -> None:
        self._offset = (self._offset + 1) % (2 * DASH)
        self.update(self._painted | self._outline_rect())

    def _path(self) -> QPainterPath | None:
        """The outline (a draft one first) in widget pixels."""
        if self._draft is not None:
            points, width, height = self._draft
            path = QPainterPath()
            path.addPolygon(QPolygonF([QPointF(x, y) for x, y in points]))
            path.closeSubpath()
        elif self.selection is not None:
            path, width, height = self.selection.path(), self.selection.width, self.selection.height
        else:
            return None
        rect = self.view.image_rect()
        scale = QTransform.fromScale(rect.width() / width, rect.height() / height)
        return (scale * QTransform.fromTranslate(rect.x(), rect.y())).map(path)

    def _outline_rect(self) -> QRect:
        path = self._path()
        if path is None:
            return QRect()
        return path.boundingRect().toAlignedRect().adjusted(-2, -2, 2, 2)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        path = self._path()
        self._painted = QRect()
        if path is None:
            return
        painter = QPainter(self)
        painter.setClipRect(QRectF(self.view.image_rect()).adjusted(-1, -1, 1, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(255, 255, 255), 1))
        painter.drawPath(path)
        ants = QPen(QColor(0, 0, 0), 1, Qt.PenStyle.CustomDashLine)
        ants.setDashPattern([DASH, DASH])
        ants.setDashOffset(self._offset)
        painter.setPen(ants)
        painter.drawPath(path)
        painter.end()
        self._painted = path.boundingRect().toAlignedRect().adjusted(-2, -2, 2, 2)

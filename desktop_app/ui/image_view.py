"""A widget that shows a QImage fitted (aspect kept) and centred; base of canvas and preview."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop_app.app.imaging import qimage_to_rgb, rgb_to_qimage


class ImageView(QWidget):
    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image = QImage()
        self.placeholder = placeholder
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 160)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(512, 512)

    def image(self) -> QImage:
        return self._image

    def set_image(self, image: QImage) -> None:
        self._image = image
        self.update()

    def set_array(self, array: np.ndarray) -> None:
        self.set_image(rgb_to_qimage(array))

    def to_numpy(self) -> np.ndarray:
        return qimage_to_rgb(self._image)

    def image_rect(self) -> QRectF:
        """Where the image is drawn, in widget coordinates."""
        if self._image.isNull():
            side = min(self.width(), self.height())
            return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        scale = min(self.width() / self._image.width(), self.height() / self._image.height())
        w, h = self._image.width() * scale, self._image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def to_image_point(self, pos: QPointF) -> QPointF:
        rect = self.image_rect()
        if rect.width() <= 0 or self._image.isNull():
            return QPointF(pos)
        scale = self._image.width() / rect.width()
        return QPointF((pos.x() - rect.x()) * scale, (pos.y() - rect.y()) * scale)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        rect = self.image_rect()
        if self._image.isNull():
            painter.setPen(self.palette().placeholderText().color())
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.placeholder)
        else:
            # Only the exposed part: a stroke repaints a few pixels, not the whole page.
            exposed = QRectF(event.rect()) & rect
            if not exposed.isEmpty():
                scale = self._image.width() / rect.width()
                source = QRectF(
                    (exposed.x() - rect.x()) * scale,
                    (exposed.y() - rect.y()) * scale,
                    exposed.width() * scale,
                    exposed.height() * scale,
                )
                self.paint_image(painter, exposed, source)
        self.paint_overlay(painter, rect)
        painter.end()

    def paint_image(self, painter: QPainter, target: QRectF, source: QRectF) -> None:
        """Draw ``source`` (image pixels) into ``target`` (widget pixels); the canvas puts its
        reference layer under the strokes here."""
        painter.drawImage(target, self._image, source)

    def paint_overlay(self, painter: QPainter, rect: QRectF) -> None:
        """Hook for subclasses (the canvas draws its brush outline here)."""

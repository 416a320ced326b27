"""The reference layer: an image under the strokes (a photo to trace, the colours to start
from), fitted to the page on white.

The strokes stay an opaque white page with ink, drawn over the reference in multiply (white
lets it through, ink stays ink), so strokes, erasing and their undo never touch the
reference. What the model gets follows what the canvas shows (``app.drawing.Drawing``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from desktop_app.app.imaging import qimage_to_rgb, rgb_to_qimage

WHITE = QColor(Qt.GlobalColor.white)


class ReferenceLayer:
    def __init__(self) -> None:
        self.image: QImage | None = None  # page-sized RGB32, fitted on white
        self.lines: np.ndarray | None = None  # its line art, dark on white, page-sized
        self.opacity = 0.5
        self.visible = True
        self.use_lines = True
        self.version = 0  # changes with every image set or removed (the lines follow it)
        self._rgb: np.ndarray | None = None  # the image as RGB, made when first needed

    @property
    def shown(self) -> bool:
        return self.image is not None and self.visible

    def set_image(self, image: QImage | None, lines: np.ndarray | None = None) -> None:
        self.image = image
        self.lines = lines if image is not None else None
        self._rgb = None
        self.version += 1

    def set_lines(self, lines: np.ndarray, version: int) -> bool:
        """The line art of the image of ``version``; False when the image changed since."""
        if version != self.version or self.image is None:
            return False
        self.lines = lines
        return True

    def rgb(self) -> np.ndarray | None:
        if self.image is not None and self._rgb is None:
            self._rgb = qimage_to_rgb(self.image)
        return self._rgb

    def paint(self, painter: QPainter, target: QRectF, source: QRectF, strokes: QImage) -> None:
        """The page as the person sees it: white, the reference at its opacity, the strokes
        multiplied over it."""
        painter.fillRect(target, WHITE)
        painter.setOpacity(self.opacity)
        painter.drawImage(target, self.image, source)
        painter.setOpacity(1.0)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Multiply)
        painter.drawImage(target, strokes, source)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)


def fit_on_page(image: QImage | np.ndarray, size: tuple[int, int]) -> QImage:
    """``image`` scaled to fill a white page of ``size`` (aspect kept, centred)."""
    if isinstance(image, np.ndarray):
        image = rgb_to_qimage(image)
    page = QImage(size[0], size[1], QImage.Format.Format_RGB32)
    page.fill(WHITE)
    scaled = image.scaled(
        page.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    painter = QPainter(page)
    painter.drawImage(
        (page.width() - scaled.width()) // 2, (page.height() - scaled.height()) // 2, scaled
    )
    painter.end()
    return page

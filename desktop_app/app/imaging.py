"""QImage <-> numpy without Python loops (views over the QImage buffer, bytesPerLine-aware)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """An RGB uint8 (H, W, 3) copy of ``image`` (any format)."""
    if image.format() != QImage.Format.Format_RGB888:
        image = image.convertToFormat(QImage.Format.Format_RGB888)
    height, width, stride = image.height(), image.width(), image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    return buffer.reshape(height, stride)[:, : width * 3].reshape(height, width, 3).copy()


def rgb_to_qimage(array: np.ndarray) -> QImage:
    """A QImage (RGB888) that owns a copy of the RGB uint8 (H, W, 3) ``array``."""
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an RGB image (height, width, 3), got shape {array.shape}")
    array = np.ascontiguousarray(array, dtype=np.uint8)
    height, width = array.shape[:2]
    view = QImage(array.data, width, height, width * 3, QImage.Format.Format_RGB888)
    return view.copy()  # detach from the numpy buffer

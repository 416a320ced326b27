"""QImage <-> numpy conversions are exact, including rows padded to 4 bytes."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage

from desktop_app.app.imaging import qimage_to_rgb, rgb_to_qimage


def test_round_trip_with_padded_rows():
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (37, 51, 3), dtype=np.uint8)  # 153 bytes a row: padded
    image = rgb_to_qimage(array)
    assert image.bytesPerLine() > 51 * 3
    assert np.array_equal(qimage_to_rgb(image), array)


def test_any_format_converts_and_the_copy_is_independent():
    image = QImage(8, 4, QImage.Format.Format_RGB32)
    image.fill(QColor(10, 20, 30))
    array = qimage_to_rgb(image)
    assert array.shape == (4, 8, 3) and (array == (10, 20, 30)).all()
    image.fill(QColor(0, 0, 0))
    assert (array == (10, 20, 30)).all()

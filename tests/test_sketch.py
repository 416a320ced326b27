"""Sketch files and photos in: reading, fitting and line art."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from desktop_app.core.errors import LiveCanvasError, SketchError
from desktop_app.engine.sketch import lineart_from_photo, read_image


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def test_canny_line_art_is_dark_lines_on_white(photo):
    lines = lineart_from_photo(photo)
    assert lines.shape == photo.shape and lines.dtype == np.uint8
    white = (lines == 255).all(axis=2).mean()
    assert 0.6 < white < 0.99  # mostly paper, with real edges drawn on it
    assert (lines == 0).all(axis=2).any()


def test_unknown_detector_is_refused(photo):
    with pytest.raises(SketchError, match="unknown line detector 'magic'"):
        lineart_from_photo(photo, "magic")


def test_learned_detector_without_weights_says_so(photo):
    with pytest.raises(LiveCanvasError, match="needs weights from lllyasviel/Annotators"):
        lineart_from_photo(photo, "hed")


def test_transparent_png_becomes_white_paper(tmp_path):
    path = tmp_path / "strokes.png"
    rgba = np.zeros((32, 48, 4), np.uint8)
    rgba[10:12, :, 3] = 255  # one black line on transparent paper
    Image.fromarray(rgba, "RGBA").save(path)
    image = read_image(path)
    assert image.shape == (32, 48, 3)
    assert (image[0] == 255).all() and (image[10] == 0).all()

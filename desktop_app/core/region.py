"""Region frames, the pixel side: where the crop around a region lies, at which size it is
rendered, and how the rendered crop is pasted back over the kept picture (docs/REGIONS.md).

Pure numpy and OpenCV, no torch: the local engine (``engine/region.py``) and the remote client
(``remote/engine.py``, which cuts the crop and pastes the server's answer) share it, so a
region frame rendered here and one rendered on a server are cut and pasted the same way.

- The region (a bool mask of the sketch's size, True = may change) is placed on the page as a
  sketch is (a non-square one centred on a square), then resized to the page with nearest
  neighbour.
- The crop is its bounding box dilated by a context margin (``context_margin``: 64 px at
  512², in proportion to the size, never less than the feather), rounded out to multiples of
  ``ALIGN`` (64 px: 8 latent pixels, so that the SD 1.x UNet's three halvings stay whole and
  compiled graphs see few shapes) and clamped to the page.
- A crop whose shorter side is under the model's useful minimum (``MIN_CROP``) is rendered
  larger (``render_shape``) and resized down before pasting.
- The paste: alpha 1 inside the region, falling linearly to 0 at ``feather`` px (Euclidean
  distance) outside it; where alpha is 0 the result is the kept picture's pixel exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.types import REGION_CONTEXT_PX

ALIGN = 64
# Context around the region's bounding box at a 512 page; scaled with the page's side.
MARGIN_AT_512 = REGION_CONTEXT_PX  # the window's locked picture grows its changes by it too
# The shortest crop side each family still draws coherent pictures at: a quarter of the area
# the turbo models are distilled at (512², SD 1.5's own too). A shorter crop is rendered
# larger; never above the page's side, so a region frame never costs more than a full one.
MIN_CROP = {"sd15": 256, "sd21": 256, "sdxl": 256}


@dataclass(frozen=True)
class Box:
    """A rectangle of the page, in pixels at the picture's size."""

    top: int
    left: int
    height: int
    width: int

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def right(self) -> int:
        return self.left + self.width

    def cut(self, image: np.ndarray) -> np.ndarray:
        """This rectangle of an array whose first two axes are the page's."""
        return image[self.top : self.bottom, self.left : self.right]

    def as_list(self) -> list[int]:
        return [self.top, self.left, self.height, self.width]


def mask_at_size(region: np.ndarray, size: int) -> np.ndarray:
    """The region (the sketch's H×W, True = may change) on the ``size`` × ``size`` page: a
    non-square one centred on a square as ``engine.sketch.resize_on_device`` places a sketch,
    then resized with nearest neighbour. A region too thin to survive the resize keeps at
    least the pixels its bounding box maps onto."""
    h, w = region.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    if (h, w) == (size, size):
        return region.copy()
    square = np.zeros((side, side), np.uint8)
    square[top : top + h, left : left + w] = region
    mask = cv2.resize(square, (size, size), interpolation=cv2.INTER_NEAREST).astype(bool)
    if not mask.any():
        rows, cols = np.nonzero(square)
        scale = size / side
        r0, c0 = int(rows.min() * scale), int(cols.min() * scale)
        r1 = max(r0 + 1, math.ceil((rows.max() + 1) * scale))
        c1 = max(c0 + 1, math.ceil((cols.max() + 1) * scale))
        mask[r0:r1, c0:c1] = True
    return mask


def context_margin(size: int, feather: int) -> int:
    """Pixels of context on each side of the region's bounding box: 64 at 512², in proportion
    to the page, and never less than the feather (the feathered edge must lie in the crop)."""
    return max(math.ceil(MARGIN_AT_512 * size / 512), feather)


def crop_box(mask: np.ndarray, feather: int) -> Box:
    """The crop around the page-sized ``mask`` that a region frame renders."""
    size = mask.shape[0]
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise InvalidRequestError("the region is empty: nothing may change")
    margin = context_margin(size, feather)
    top = max(0, (rows.min() - margin) // ALIGN * ALIGN)
    left = max(0, (cols.min() - margin) // ALIGN * ALIGN)
    bottom = min(size, -(-(rows.max() + 1 + margin) // ALIGN) * ALIGN)
    right = min(size, -(-(cols.max() + 1 + margin) // ALIGN) * ALIGN)
    return Box(int(top), int(left), int(bottom - top), int(right - left))


def render_shape(box: Box, page: int, family: str) -> tuple[int, int]:
    """(height, width) the crop is rendered at: its own where its shorter side reaches the
    family's minimum (or the page's side, on a page smaller than that), else scaled up to it,
    rounded up to ``ALIGN`` and capped at the page's side (so a strip is stretched along its
    length less than across it)."""
    least = min(MIN_CROP.get(family, 256), page)
    short = min(box.height, box.width)
    if short >= least:
        return box.height, box.width
    scale = least / short
    return tuple(  # type: ignore[return-value]
        min(page, math.ceil(side * scale / ALIGN) * ALIGN) for side in (box.height, box.width)
    )


def feather_alpha(mask: np.ndarray, feather: int) -> np.ndarray:
    """float32 weights of the rendered pixels: 1 in the mask, 1 - d / feather at Euclidean
    distance d outside it, 0 from ``feather`` px on (a feather of 0: the mask's hard edge)."""
    inside = mask.astype(np.uint8)
    if feather <= 0:
        return inside.astype(np.float32)
    # Distance of each pixel outside the mask to the nearest pixel in it.
    distance = cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.clip(1.0 - distance / float(feather), 0.0, 1.0).astype(np.float32)


def fit_crop(pixels: np.ndarray, box: Box) -> np.ndarray:
    """A crop rendered at another shape (``render_shape``), resized back to the box."""
    if pixels.shape[:2] == (box.height, box.width):
        return pixels
    return cv2.resize(pixels, (box.width, box.height), interpolation=cv2.INTER_AREA)


def compose(
    keep: np.ndarray, pixels: np.ndarray, box: Box, mask: np.ndarray, feather: int
) -> np.ndarray:
    """``keep`` with the rendered crop ``pixels`` (at the box's shape) pasted into ``box``
    through the feathered ``mask`` (page-sized). Every pixel whose weight is 0 (outside the
    region and its feather) is ``keep``'s, unchanged."""
    alpha = feather_alpha(box.cut(mask), feather)[..., None]
    kept = box.cut(keep)
    blended = alpha * pixels.astype(np.float32) + (1.0 - alpha) * kept.astype(np.float32)
    out = keep.copy()
    # Where alpha is 0 the blend is exactly the kept value; np.where says so for any rounding.
    box.cut(out)[...] = np.where(alpha > 0, np.rint(blended), kept).astype(np.uint8)
    return out


def fit_sketch(sketch: np.ndarray, size: int) -> np.ndarray:
    """The sketch on the ``size`` page, for a client that cuts its crop (a served region
    frame): a non-square one centred on white, resized with OpenCV's area filter. The engine
    fits a sketch with torch's antialiased bilinear, so a sketch not drawn at the page's size
    may differ here by a grey level at the lines' edges; one at the size is cut as it is."""
    h, w = sketch.shape[:2]
    if (h, w) == (size, size):
        return sketch
    side = max(h, w)
    square = np.full((side, side, 3), 255, np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    square[top : top + h, left : left + w] = sketch
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)


def box_from(raw: object, page: int) -> Box:
    """A crop box sent by a client, ``[top, left, height, width]``, checked against the page:
    whole numbers on the ``ALIGN`` grid, inside the page, not empty."""
    if (
        not isinstance(raw, list)
        or len(raw) != 4
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
    ):
        raise InvalidRequestError("a crop box is [top, left, height, width] in whole pixels")
    box = Box(*raw)
    if any(v % ALIGN for v in raw) or min(raw) < 0 or min(box.height, box.width) < ALIGN:
        raise InvalidRequestError(
            f"a crop box's numbers are multiples of {ALIGN} (height and width at least "
            f"{ALIGN}), got {raw}"
        )
    if box.bottom > page or box.right > page:
        raise InvalidRequestError(f"the crop box {raw} reaches outside the {page}x{page} page")
    return box

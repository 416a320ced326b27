"""``live-canvas render ... --keep PICTURE --region MASK|X,Y,W,H [--feather PX]``: a region
frame from the shell (docs/REGIONS.md). Only the region (and its feathered edge) of the kept
picture is repainted; the rest of the written picture is the kept one, pixel for pixel."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.types import DEFAULT_FEATHER_PX, MAX_FEATHER_PX

_BOX = re.compile(r"^\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*$")


def add_region_arguments(parser: argparse.ArgumentParser) -> None:
    from desktop_app.commands.arguments import ranged

    group = parser.add_argument_group("region frames (repaint only part of a picture)")
    group.add_argument(
        "--keep",
        metavar="PICTURE",
        default=None,
        help="the picture to keep outside --region (--size x --size); only the region and "
        "its feathered edge are repainted",
    )
    group.add_argument(
        "--region",
        metavar="MASK|X,Y,W,H",
        default=None,
        help="what may change: a mask image of the sketch's size (white may change) or a "
        "rectangle X,Y,W,H in sketch pixels",
    )
    group.add_argument(
        "--feather",
        type=ranged(int, 0, MAX_FEATHER_PX, "feather"),
        default=DEFAULT_FEATHER_PX,
        help=f"the soft edge around the region, in pixels of the picture (0..{MAX_FEATHER_PX}, "
        f"default {DEFAULT_FEATHER_PX})",
    )


def region_inputs(args: argparse.Namespace, sketch: np.ndarray) -> dict:
    """``keep``, ``region`` and ``feather`` for a RenderRequest (empty without --region): each
    bad input an InvalidRequestError or SketchError in one line, before any model loads."""
    from desktop_app.engine.sketch import read_image

    if args.keep is None and args.region is None:
        return {}
    if args.region is None:
        raise InvalidRequestError("--keep needs --region: the part of the picture that may change")
    if args.keep is None:
        raise InvalidRequestError("--region needs --keep: the picture to keep outside it")
    if getattr(args, "init", None):
        raise InvalidRequestError("--init and --region cannot be combined")
    keep = read_image(args.keep, what="--keep picture")
    if keep.shape[:2] != (args.size, args.size):
        h, w = keep.shape[:2]
        raise InvalidRequestError(
            f"the --keep picture is {w}x{h}, and the frame is {args.size}x{args.size} "
            "(give --size its side)"
        )
    region = _region(args.region, sketch.shape[:2])
    if not region.any():
        raise InvalidRequestError(f"the region {args.region} is empty: nothing may change")
    return {"keep": keep, "region": region, "feather": args.feather}


def _region(text: str, shape: tuple[int, int]) -> np.ndarray:
    """A mask of the sketch's ``shape`` from a rectangle X,Y,W,H or a mask image."""
    height, width = shape
    box = _BOX.match(text)
    if box is not None and not Path(text).exists():
        x, y, w, h = (int(v) for v in box.groups())
        if w < 1 or h < 1 or x >= width or y >= height:
            raise InvalidRequestError(
                f"the region {text} lies outside the {width}x{height} sketch (X,Y,W,H in its "
                "pixels, W and H at least 1)"
            )
        mask = np.zeros(shape, bool)
        mask[y : y + h, x : x + w] = True
        return mask
    mask = read_mask(text)
    if mask.shape != shape:
        (mh, mw) = mask.shape
        raise InvalidRequestError(
            f"the region mask is {mw}x{mh}, and the sketch {width}x{height}: give a mask of "
            "the sketch's size"
        )
    return mask


def read_mask(path: str) -> np.ndarray:
    """A mask image as bool: light (grey 128 and up) may change; a transparent pixel may not."""
    from PIL import Image

    from desktop_app.engine.sketch import read_image

    # read_image says in one line why a file cannot be read; it lays transparency on white.
    grey = read_image(path, what="region mask").mean(axis=2) >= 127.5
    with Image.open(path) as image:
        if image.mode in ("RGBA", "LA") or "transparency" in image.info:
            alpha = np.asarray(image.convert("RGBA"))[..., 3]
            if alpha.shape == grey.shape:  # an EXIF turn aside, which a mask would not have
                grey &= alpha >= 128
    return grey

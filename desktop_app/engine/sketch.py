"""Sketches in, model inputs out: reading image files, fitting them to the generation size,
turning a canvas into ControlNet conditioning, and turning a photo into line art."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from desktop_app.core.errors import ModelLoadError, SketchError

LINEART_DETECTORS = ("canny", "hed", "pidi", "lineart")
_LUMA = torch.tensor([0.299, 0.587, 0.114])


def read_image(path: str | Path, what: str = "sketch") -> np.ndarray:
    """An image file as RGB uint8; transparent areas become white paper. ``what`` names the
    file in the message for a missing one."""
    path = Path(path)
    if not path.exists():
        raise SketchError(f"{what} file not found: {path}")
    if path.is_dir():
        raise SketchError(f"{path} is a folder, not an image file")
    try:
        with Image.open(path) as opened:
            opened.load()
            img = ImageOps.exif_transpose(opened)  # a phone photo of a paper sketch, upright
            if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(paper, rgba)
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except UnidentifiedImageError:
        raise SketchError(f"{path} is not an image file Live Canvas can read") from None
    except Image.DecompressionBombError:
        raise SketchError(f"{path} is too large an image to open safely") from None
    except PermissionError:
        raise SketchError(f"cannot read {path}: permission denied") from None
    except (OSError, ValueError) as err:
        raise SketchError(f"cannot read {path}: {err}") from None


def to_device_image(sketch: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """uint8 (H, W, 3) → (1, 3, H, W) in [0, 1] on the device: one host→device copy of bytes,
    the float conversion happens there."""
    tensor = torch.from_numpy(np.ascontiguousarray(sketch)).to(device, non_blocking=True)
    return tensor.permute(2, 0, 1).unsqueeze(0).to(dtype).div_(255.0)


def resize_on_device(image: torch.Tensor, size: int) -> torch.Tensor:
    if image.shape[-2:] == (size, size):
        return image
    # Keep the aspect ratio: pad to a square with white before scaling.
    h, w = image.shape[-2:]
    side = max(h, w)
    if h != w:
        padded = image.new_ones((1, 3, side, side))
        top, left = (side - h) // 2, (side - w) // 2
        padded[..., top : top + h, left : left + w] = image
        image = padded
    return torch.nn.functional.interpolate(
        image.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
    ).to(image.dtype)


def fit_picture(picture: np.ndarray, size: int) -> np.ndarray:
    """A picture (RGB uint8) at ``size`` × ``size``, placed as ``resize_on_device`` places a
    sketch (a non-square one centred on white) but resized with Lanczos, as diffusers' image
    processor resizes an img2img pipeline's picture: a picture's detail, unlike a sketch's
    lines, is worth the sharper filter. A picture already at the size is returned as it is."""
    h, w = picture.shape[:2]
    if (h, w) == (size, size):
        return picture
    image = Image.fromarray(picture)
    if h != w:
        side = max(h, w)
        square = Image.new("RGB", (side, side), (255, 255, 255))
        square.paste(image, ((side - w) // 2, (side - h) // 2))
        image = square
    return np.array(image.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


@functools.lru_cache(maxsize=8)
def _luma_on(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Uploaded once: a host-to-device copy inside the frame would be a synchronisation."""
    return _LUMA.to(device, dtype)


def control_from_canvas(image01: torch.Tensor) -> torch.Tensor:
    """Scribble ControlNets are trained on white lines on black; the canvas is dark on white.
    Ink is darkness (1 - luma), so a blue or red stroke is a line as much as a black one."""
    luma = torch.tensordot(_luma_on(image01.device, image01.dtype), image01, dims=([0], [1]))
    luma = luma.unsqueeze(1)
    return (1.0 - luma).expand(-1, 3, -1, -1).contiguous()


def control_from_sketch(sketch: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """The same as ``control_from_canvas`` (to within one grey level) for a CPU frame already
    at size: OpenCV's vectorised RGB→grey reads the bytes once, several times faster than the
    float matmul or the torch chain."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(sketch), cv2.COLOR_RGB2GRAY)
    ink = torch.from_numpy(grey).to(dtype).mul_(-1.0 / 255.0).add_(1.0)
    h, w = grey.shape
    return ink.expand(1, 3, h, w).contiguous()


def lineart_from_photo(image: np.ndarray, detector: str = "canny") -> np.ndarray:
    """A photo → dark lines on white, ready to be a sketch. Canny needs no weights; the other
    detectors load their annotator weights from the Hugging Face cache."""
    if detector not in LINEART_DETECTORS:
        raise SketchError(
            f"unknown line detector {detector!r}; choose one of {', '.join(LINEART_DETECTORS)}"
        )
    if detector == "canny":
        from controlnet_aux.canny import CannyDetector

        lines = CannyDetector()(image, low_threshold=100, high_threshold=200)
    else:
        lines = _learned_lineart(image, detector)
    lines = np.asarray(lines, dtype=np.uint8)
    if lines.ndim == 2:
        lines = np.repeat(lines[..., None], 3, axis=2)
    if lines.shape[:2] != image.shape[:2]:
        lines = np.asarray(
            Image.fromarray(lines).resize((image.shape[1], image.shape[0])), dtype=np.uint8
        )
    return 255 - lines


def _learned_lineart(image: np.ndarray, detector: str) -> np.ndarray:
    import controlnet_aux

    cls = {
        "hed": controlnet_aux.HEDdetector,
        "pidi": controlnet_aux.PidiNetDetector,
        "lineart": controlnet_aux.LineartDetector,
    }[detector]
    try:
        model = cls.from_pretrained("lllyasviel/Annotators")
    except Exception as err:  # noqa: BLE001 - any failure here means "weights unavailable"
        raise ModelLoadError(
            f"the {detector} line detector needs weights from lllyasviel/Annotators, which are "
            f"not available ({type(err).__name__}); use the canny detector, or download them "
            "with: hf download lllyasviel/Annotators"
        ) from None
    return np.asarray(model(Image.fromarray(image), output_type="np"))

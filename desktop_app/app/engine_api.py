"""The engine functions the app calls, imported lazily (the engine pulls in torch).

Each wrapper imports its engine module on first call, inside whichever thread calls it (the
render worker), so importing the app layer never imports torch. Until an engine module lands,
``save_png`` and ``lineart_from_photo`` fall back to small equivalents here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.engine.errors import ModelLoadError
from desktop_app.engine.types import GenerationParams


def load_engine(
    model: str,
    device: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Any:
    try:
        from desktop_app.engine.loading import load_engine as _load_engine
    except ModuleNotFoundError as err:
        if err.name != "desktop_app.engine.loading":
            raise
        raise ModelLoadError(
            "this build has no model loader (desktop_app.engine.loading)"
        ) from None
    return _load_engine(model, device=device, progress=progress)


def save_png(path: str | os.PathLike, image: np.ndarray, params: GenerationParams) -> None:
    try:
        from desktop_app.engine.metadata import save_png as _save_png
    except ModuleNotFoundError as err:
        if err.name != "desktop_app.engine.metadata":
            raise
        _save_png = _fallback_save_png
    _save_png(path, image, params)


def lineart_from_photo(image: np.ndarray) -> np.ndarray:
    try:
        from desktop_app.engine.sketch import lineart_from_photo as _lineart
    except ModuleNotFoundError as err:
        if err.name != "desktop_app.engine.sketch":
            raise
        _lineart = _fallback_lineart
    return _lineart(image)


def parameters_text(params: GenerationParams) -> str:
    """The A1111-style ``parameters`` text (used only by the fallback writer)."""
    fields = [
        f"Steps: {params.steps}",
        f"Sampler: {params.sampler}",
        "CFG scale: 0",
        f"Seed: {params.seed}",
        f"Size: {params.size}x{params.size}",
        f"Model: {params.model}",
        f"Mode: {params.mode}",
        f"ControlNet scale: {params.control_scale:g}",
    ]
    if params.strength is not None:
        fields.append(f"Denoising strength: {params.strength:g}")
    return f"{params.prompt}\n" + ", ".join(fields)


def _fallback_save_png(
    path: str | os.PathLike, image: np.ndarray, params: GenerationParams
) -> None:
    import io

    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from desktop_app.app.files import write_atomic

    info = PngInfo()
    info.add_itxt("parameters", parameters_text(params))
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(
        buffer, format="PNG", pnginfo=info
    )
    write_atomic(Path(path), buffer.getvalue())


def _fallback_lineart(image: np.ndarray) -> np.ndarray:
    """Dark edges on white from a photo: gradient magnitude of the luminance, thresholded."""
    grey = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    gx = np.zeros_like(grey)
    gy = np.zeros_like(grey)
    gx[:, 1:-1] = grey[:, 2:] - grey[:, :-2]
    gy[1:-1, :] = grey[2:, :] - grey[:-2, :]
    magnitude = np.hypot(gx, gy)
    threshold = max(float(np.percentile(magnitude, 90)), 24.0)
    lines = np.where(magnitude > threshold, 0, 255).astype(np.uint8)
    return np.repeat(lines[..., None], 3, axis=2)

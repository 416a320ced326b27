"""The engine boundary: what a frame is asked for and what comes back.

These are plain frozen dataclasses with numpy images so that the worker and the UI can hold
them without knowing about torch; only ``FrameResult.latents`` is a device tensor, and only
the engine looks inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from desktop_app.engine.errors import InvalidRequestError

Mode = Literal["scribble", "colour"]
MODES: tuple[str, ...] = ("scribble", "colour")
MIN_SIZE, MAX_SIZE, SIZE_STEP = 128, 2048, 64
MAX_STEPS = 4
MAX_CONTROL_SCALE = 2.0
MAX_SEED = 2**32 - 1


def check_size(size: int) -> int:
    if not isinstance(size, int) or size % SIZE_STEP or not MIN_SIZE <= size <= MAX_SIZE:
        raise InvalidRequestError(
            f"size must be a multiple of {SIZE_STEP} between {MIN_SIZE} and {MAX_SIZE}, got {size}"
        )
    return size


def check_strength(strength: float) -> float:
    if not 0.0 < strength <= 1.0:
        raise InvalidRequestError(f"strength must be in (0, 1], got {strength:g}")
    return strength


@dataclass(frozen=True, eq=False)
class RenderRequest:
    """One frame: the sketch as it is now plus every setting that shapes the picture.

    ``sketch`` is an RGB uint8 array (H, W, 3) of dark lines on white, any size; the engine
    resizes it to ``size``. ``request_id`` lets the caller match a result to its request.
    """

    sketch: np.ndarray
    prompt: str = ""
    mode: Mode = "scribble"
    control_scale: float = 1.0
    strength: float = 0.6
    seed: int = 0
    steps: int = 1
    size: int = 512
    request_id: int = 0

    def __post_init__(self) -> None:
        sketch = self.sketch
        if not isinstance(sketch, np.ndarray) or sketch.dtype != np.uint8:
            raise InvalidRequestError("the sketch must be an RGB uint8 image")
        if sketch.ndim != 3 or sketch.shape[2] != 3 or min(sketch.shape[:2]) < 1:
            raise InvalidRequestError(
                f"the sketch must be an RGB image (height, width, 3), got shape {sketch.shape}"
            )
        if self.mode not in MODES:
            raise InvalidRequestError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        check_size(self.size)
        check_strength(self.strength)
        if not 1 <= self.steps <= MAX_STEPS:
            raise InvalidRequestError(f"steps must be between 1 and {MAX_STEPS}, got {self.steps}")
        if not 0.0 <= self.control_scale <= MAX_CONTROL_SCALE:
            raise InvalidRequestError(
                f"control scale must be between 0 and {MAX_CONTROL_SCALE:g}, "
                f"got {self.control_scale:g}"
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise InvalidRequestError(f"seed must be between 0 and {MAX_SEED}, got {self.seed}")
        if not isinstance(self.prompt, str):
            raise InvalidRequestError("the prompt must be text")

    def same_inputs(self, other: RenderRequest | None) -> bool:
        """True when ``other`` would render the same picture (ids aside)."""
        if other is None:
            return False
        return (
            self.settings_key() == other.settings_key()
            and self.sketch.shape == other.sketch.shape
            and np.array_equal(self.sketch, other.sketch)
        )

    def settings_key(self) -> tuple:
        return (
            self.prompt,
            self.mode,
            self.control_scale,
            self.strength if self.mode == "colour" else None,
            self.seed,
            self.steps,
            self.size,
        )


@dataclass(frozen=True)
class FrameTimings:
    """Milliseconds spent in each stage of one frame (device synchronised on CUDA only)."""

    preprocess_ms: float = 0.0
    text_encode_ms: float = 0.0
    denoise_ms: float = 0.0
    decode_ms: float = 0.0
    convert_ms: float = 0.0
    total_ms: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.total_ms:.0f} ms (preprocess {self.preprocess_ms:.1f}, "
            f"text {self.text_encode_ms:.1f}, denoise {self.denoise_ms:.1f}, "
            f"decode {self.decode_ms:.1f}, convert {self.convert_ms:.1f})"
        )


@dataclass(frozen=True)
class GenerationParams:
    """What produced an image, as written into exported PNGs."""

    prompt: str
    seed: int
    steps: int
    size: int
    model: str
    mode: str
    control_scale: float
    strength: float | None
    sampler: str = "Euler"


@dataclass(frozen=True, eq=False)
class FrameResult:
    """A rendered frame. ``image`` is RGB uint8 (size, size, 3)."""

    image: np.ndarray
    params: GenerationParams
    timings: FrameTimings
    request_id: int = 0
    latents: Any = None  # torch.Tensor on the engine's device; for the full-quality export
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class EngineInfo:
    """What is loaded, for status bars and metadata."""

    model: str
    family: str  # "sdxl" or "sd21" (SD 1.x/2.x share the code path)
    device: str
    dtype: str
    preview_decoder: str
    is_noise: bool = False  # random weights: the output is noise, and the UI says so
    warnings: tuple[str, ...] = ()

    def describe(self) -> str:
        noise = " [random weights: output is noise]" if self.is_noise else ""
        return f"{self.model} on {self.device} ({self.dtype}){noise}"

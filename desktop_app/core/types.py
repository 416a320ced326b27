"""The engine boundary: what a frame is asked for and what comes back.

These are plain frozen dataclasses with numpy images so that the worker and the UI can hold
them without knowing about torch; only ``FrameResult.latents`` is a device tensor, and only
the engine looks inside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.settings_table import (
    FRAME_SETTINGS,
    SETTINGS,
    check_frame_settings,
)

Mode = Literal["scribble", "colour"]
# A region frame's soft edge, in pixels of the picture (see RenderRequest.keep); docs/REGIONS.md.
DEFAULT_FEATHER_PX = 16
MAX_FEATHER_PX = 256
# The context a region frame's region gets around what changed, in pixels of a 512² picture
# (scaled with the page): the window's locked picture repaints the changed pixels' bounding
# box grown by this much.
REGION_CONTEXT_PX = 64
# Finish's defaults for the turbo models (a preset may set its own), from the settings table.
DEFAULT_FINISH_SCALE = SETTINGS["finish_scale"].default
DEFAULT_FINISH_STEPS = SETTINGS["finish_steps"].default
DEFAULT_FINISH_STRENGTH = SETTINGS["finish_strength"].default
_load_ids = itertools.count(1)


def new_load_id() -> int:
    """A number for one model load, unique in this process across every kind of engine (a
    result is exported only by the load that made it)."""
    return next(_load_ids)


def lora_name(path: str) -> str:
    """A LoRA style's name, as A1111 writes it in ``<lora:NAME:WEIGHT>``: the file's name
    without ``.safetensors`` (a name alone stays itself)."""
    name = PurePath(path.replace("\\", "/")).name
    return name[: -len(".safetensors")] if name.lower().endswith(".safetensors") else name


@dataclass(frozen=True, eq=False)
class RenderRequest:
    """One frame: the sketch as it is now plus every setting that shapes the picture.

    ``sketch`` is an RGB uint8 array (H, W, 3) of dark lines on white, any size; the engine
    resizes it to ``size``. ``colour``, when given (a reference photo under the strokes), is
    where colour mode takes its starting colours from instead of the sketch; the lines still
    come from ``sketch``. ``request_id`` lets the caller match a result to its request.
    """

    sketch: np.ndarray
    prompt: str = SETTINGS["prompt"].default
    mode: Mode = SETTINGS["mode"].default
    control_scale: float = SETTINGS["control_scale"].default
    strength: float = SETTINGS["strength"].default
    seed: int = SETTINGS["seed"].default
    steps: int = SETTINGS["steps"].default
    size: int = SETTINGS["size"].default
    request_id: int = 0
    colour: np.ndarray | None = None
    # LoRA styles fused into the model for this frame: (file or name, weight) pairs.
    loras: tuple[tuple[str, float], ...] = SETTINGS["loras"].default
    # A region frame (both or neither): ``keep`` is the picture to keep, RGB uint8
    # (size, size, 3); ``region`` a bool mask of the sketch's height and width, True where the
    # picture may change. Only a crop around the region is rendered; outside the region and
    # its ``feather`` (pixels at the picture's size) the result is ``keep``, pixel for pixel.
    keep: np.ndarray | None = None
    region: np.ndarray | None = None
    feather: int = DEFAULT_FEATHER_PX

    def __post_init__(self) -> None:
        _check_rgb(self.sketch, "the sketch")
        if self.colour is not None:
            _check_rgb(self.colour, "the colour image")
        _check_region(self)
        # Strength is checked in scribble mode too: a bad value is reported where it was set.
        check_frame_settings({name: getattr(self, name) for name in FRAME_SETTINGS})

    def same_inputs(self, other: RenderRequest | None) -> bool:
        """True when ``other`` would render the same picture (ids aside)."""
        if other is None:
            return False
        return (
            self.settings_key() == other.settings_key()
            and _same_image(self.sketch, other.sketch)
            and (self.mode != "colour" or _same_image(self.colour, other.colour))
            and _same_image(self.keep, other.keep)
            and _same_image(self.region, other.region)
        )

    @property
    def is_region_frame(self) -> bool:
        return self.region is not None

    def settings_key(self) -> tuple:
        return (
            self.prompt,
            self.mode,
            self.control_scale,
            self.strength if self.mode == "colour" else None,
            self.seed,
            self.steps,
            self.size,
            self.loras,
            self.feather if self.region is not None else None,
        )


@dataclass(frozen=True, eq=False)
class Img2ImgRequest:
    """Image-to-image: ``init`` (a picture, RGB uint8) refined by the model, guided by
    ``sketch``: the second pass of Finish and ``live-canvas render --init``.

    ``steps`` and ``strength`` mean what they mean to diffusers' img2img pipelines: the
    scheduler is set to ``steps`` steps and the pass runs the last int(steps × strength) of
    them, starting from the picture noised to that step's level (at least one must run). The
    picture comes out ``size`` × ``size``. ``init`` must have the sketch's aspect ratio (to
    within one pixel's rounding); both are fitted to the size as a sketch is: a non-square one
    is centred on a white square, then resized (the picture with Lanczos, as diffusers' image
    processor resizes; the sketch as frames resize it).
    """

    sketch: np.ndarray
    init: np.ndarray
    prompt: str = SETTINGS["prompt"].default
    strength: float = SETTINGS["strength"].default
    steps: int = SETTINGS["img2img_steps"].default
    seed: int = SETTINGS["seed"].default
    control_scale: float = SETTINGS["control_scale"].default
    size: int = SETTINGS["size"].default
    loras: tuple[tuple[str, float], ...] = SETTINGS["loras"].default
    request_id: int = 0

    def __post_init__(self) -> None:
        _check_rgb(self.sketch, "the sketch")
        _check_rgb(self.init, "the starting picture")
        for name in ("prompt", "strength", "seed", "control_scale", "size", "loras"):
            SETTINGS[name].check(getattr(self, name))
        SETTINGS["img2img_steps"].check(self.steps)
        if int(self.steps * self.strength) < 1:
            raise InvalidRequestError(
                f"{self.steps} steps at strength {self.strength:g} run no step (image-to-image "
                f"runs int(steps × strength)): give more steps or a higher strength"
            )
        (sh, sw), (ih, iw) = self.sketch.shape[:2], self.init.shape[:2]
        if abs(ih * sw - sh * iw) > max(iw, sw):
            raise InvalidRequestError(
                f"the starting picture is {iw}x{ih} and the sketch {sw}x{sh}: they must have "
                "the same aspect ratio"
            )


@dataclass(frozen=True, eq=False)
class FinishRequest:
    """Finish: ``picture`` (the picture shown, RGB uint8, ``size`` × ``size``) upscaled by
    ``scale`` and refined by the model as image-to-image for ``steps`` at ``strength``, guided
    by ``sketch`` upscaled to the same size, decoded by the full VAE (tiled where memory
    requires). ``first_pass`` is what made the picture (its metadata is the finished
    picture's, with the hires fields added); prompt, seed, scale and LoRA styles are given
    apart because the engine needs the LoRA files, not their names."""

    picture: np.ndarray
    sketch: np.ndarray
    prompt: str = SETTINGS["prompt"].default
    seed: int = SETTINGS["seed"].default
    control_scale: float = SETTINGS["control_scale"].default
    loras: tuple[tuple[str, float], ...] = SETTINGS["loras"].default
    scale: float = DEFAULT_FINISH_SCALE
    steps: int = DEFAULT_FINISH_STEPS
    strength: float = DEFAULT_FINISH_STRENGTH
    first_pass: GenerationParams | None = None
    request_id: int = 0

    def __post_init__(self) -> None:
        _check_rgb(self.sketch, "the sketch")
        _check_rgb(self.picture, "the picture to finish")
        h, w = self.picture.shape[:2]
        if h != w:
            raise InvalidRequestError(f"the picture to finish must be square, got {w}x{h}")
        if not 1.0 <= self.scale <= 4.0:
            raise InvalidRequestError(f"the finish scale must be 1..4, got {self.scale:g}")
        if not 1 <= self.steps <= 50:
            raise InvalidRequestError(f"the finish steps must be 1..50, got {self.steps}")
        if not 0.0 < self.strength <= 1.0:
            raise InvalidRequestError(
                f"the finish strength must be in (0, 1], got {self.strength:g}"
            )
        if int(self.steps * self.strength) < 1:
            raise InvalidRequestError(
                f"{self.steps} steps at strength {self.strength:g} run no step (image-to-image "
                f"runs int(steps × strength)): give more steps or a higher strength"
            )
        for name in ("prompt", "seed", "control_scale", "loras"):
            SETTINGS[name].check(getattr(self, name))

    @property
    def size(self) -> int:
        """The picture's side (the first pass's size)."""
        return int(self.picture.shape[0])

    @property
    def target_size(self) -> int:
        """The finished picture's side: size × scale, to the nearest multiple of 8."""
        return max(8, int(round(self.size * self.scale / 8)) * 8)


@dataclass(frozen=True)
class FinishProgress:
    """Where a Finish is: ``step`` of ``steps`` done in ``stage`` ("encode", "refine",
    "decode"), ``elapsed_s`` since it began and ``left_s`` (None until it can be told)."""

    stage: str
    step: int
    steps: int
    elapsed_s: float
    left_s: float | None = None


def _check_region(req: RenderRequest) -> None:
    """A region frame's inputs, each fault in one line."""
    if (req.keep is None) != (req.region is None):
        raise InvalidRequestError(
            "a region frame needs both the picture to keep and the region"
            if req.keep is not None
            else "a region needs the picture to keep (the picture outside it)"
        )
    if req.region is None or req.keep is None:
        return
    _check_rgb(req.keep, "the picture to keep")
    if req.keep.shape[:2] != (req.size, req.size):
        h, w = req.keep.shape[:2]
        raise InvalidRequestError(
            f"the picture to keep is {w}x{h}, and the frame is {req.size}x{req.size}"
        )
    region = req.region
    if not isinstance(region, np.ndarray) or region.dtype != np.bool_ or region.ndim != 2:
        raise InvalidRequestError("the region must be a mask (height, width) of True/False")
    if region.shape != req.sketch.shape[:2]:
        (mh, mw), (sh, sw) = region.shape, req.sketch.shape[:2]
        raise InvalidRequestError(f"the region is {mw}x{mh}, and the sketch {sw}x{sh}")
    if not region.any():
        raise InvalidRequestError("the region is empty: nothing may change")
    if not 0 <= req.feather <= MAX_FEATHER_PX:
        raise InvalidRequestError(
            f"the feather must be 0..{MAX_FEATHER_PX} pixels, got {req.feather}"
        )


def _check_rgb(image: object, what: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InvalidRequestError(f"{what} must be an RGB uint8 image")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise InvalidRequestError(
            f"{what} must be an RGB image (height, width, 3), got shape {image.shape}"
        )


def _same_image(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and np.array_equal(a, b)


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
class ServerTimings:
    """What a frame cost on the server's side (``live-canvas serve``), in milliseconds."""

    replica: str = ""  # which replica rendered it
    queue_ms: float = 0.0  # waiting in the replica for the engine (other clients' frames)
    decode_ms: float = 0.0  # the sketch from its upload
    encode_ms: float = 0.0  # the picture for the download
    handler_ms: float = 0.0  # everything in the replica, from the request to the reply
    batch_size: int = 1  # frames rendered in the same forward (``serve --max-batch``)


@dataclass(frozen=True)
class RemoteTimings:
    """One remote frame as the client saw it: ``round_trip_ms`` minus the server's
    ``handler_ms`` is the network (and the server's HTTP proxy)."""

    server: ServerTimings
    encode_ms: float = 0.0  # the sketch for the upload
    round_trip_ms: float = 0.0  # request sent to reply read
    decode_ms: float = 0.0  # the picture from its download
    bytes_up: int = 0  # request body
    bytes_down: int = 0  # reply body

    @property
    def network_ms(self) -> float:
        return max(0.0, self.round_trip_ms - self.server.handler_ms)

    @property
    def total_ms(self) -> float:
        return self.encode_ms + self.round_trip_ms + self.decode_ms

    def summary(self) -> str:
        return (
            f"{self.total_ms:.0f} ms: network {self.network_ms:.0f}, "
            f"server {self.server.handler_ms:.0f} (queue {self.server.queue_ms:.0f}"
            f"{f', batch of {self.server.batch_size}' if self.server.batch_size > 1 else ''})"
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
    licence: str = ""  # the model's licence, where known (a preset's)
    # The LoRA styles fused in: (name, weight, A1111's short hash of the file).
    loras: tuple[tuple[str, float, str], ...] = ()
    # A finished picture (Finish, A1111's "hires fix"): the second pass over this first one
    # (``size`` and the rest stay the first pass's; the picture is the upscaled size).
    hires_upscale: float | None = None
    hires_steps: int | None = None
    denoising_strength: float | None = None
    # A region frame's picture: only part of it was repainted, the rest kept.
    composed: bool = False


@dataclass(frozen=True, eq=False)
class FrameResult:
    """A rendered frame. ``image`` is RGB uint8 (size, size, 3)."""

    image: np.ndarray
    params: GenerationParams
    timings: FrameTimings
    request_id: int = 0
    # What the engine that made it needs for the full-quality export: the local engine's
    # latents (a tensor on its device), the remote engine's encoded request.
    latents: Any = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    load_id: int = 0  # the engine load that made it: its latents fit only that model's VAE
    remote: RemoteTimings | None = None  # where a served frame's time went


@dataclass(frozen=True)
class EngineInfo:
    """What is loaded, for status bars and metadata."""

    model: str
    family: str  # "sdxl", "sd21" or "sd15" (SD 1.x/2.x share the code path)
    device: str
    dtype: str
    preview_decoder: str
    is_noise: bool = False  # random weights: the output is noise, and the UI says so
    warnings: tuple[str, ...] = ()
    load_id: int = 0  # unique to each load in this process (two loads of one model differ)
    licence: str = ""
    server: str = ""  # host:port of the server that renders the frames; "" in this process

    def describe(self) -> str:
        noise = " [random weights: output is noise]" if self.is_noise else ""
        where = f" at {self.server}" if self.server else ""
        return f"{self.model} on {self.device}{where} ({self.dtype}){noise}"


@runtime_checkable
class FrameEngine(Protocol):
    """What the app asks of a loaded model, wherever it runs: the local engine, the remote
    one (``desktop_app.remote``) and the tests' fake all satisfy it."""

    info: EngineInfo

    def render(
        self, request: RenderRequest, should_cancel: Callable[[], bool] | None = None
    ) -> FrameResult:
        """One frame. ``should_cancel`` is polled often; when it answers True the engine
        raises ``RenderCancelled`` as soon as it can."""
        ...

    def export_image(
        self, result: FrameResult, should_cancel: Callable[[], bool] | None = None
    ) -> np.ndarray:
        """``result`` again at full quality (it was made by this engine: same ``load_id``);
        ``should_cancel`` as in ``render``."""
        ...

    def finish(
        self,
        request: FinishRequest,
        progress: Callable[[FinishProgress], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> FrameResult:
        """Finish (see ``FinishRequest``): a FrameResult whose ``image`` is the finished
        picture (``target_size`` square, full-VAE quality: it exports as it is), ``params``
        the first pass's with ``hires_*`` set; ``progress`` is called as it goes (from the
        thread that runs it), ``should_cancel`` as in ``render``. Out of memory raises
        ``DeviceOutOfMemoryError`` and leaves the engine usable."""
        ...

    def set_loras(
        self, loras: tuple[tuple[str, float], ...], progress: Callable[[str], None] | None = None
    ) -> None:
        """Use exactly these LoRA styles from now on (a frame's ``loras`` also asks for
        them); a LiveCanvasError, with the styles as they were, for one that cannot be
        used."""
        ...

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
from desktop_app.core.settings_table import FRAME_SETTINGS, SETTINGS, check_frame_settings

Mode = Literal["scribble", "colour"]
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

    def __post_init__(self) -> None:
        _check_rgb(self.sketch, "the sketch")
        if self.colour is not None:
            _check_rgb(self.colour, "the colour image")
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
            self.loras,
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
            f"server {self.server.handler_ms:.0f} (queue {self.server.queue_ms:.0f})"
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

    def set_loras(
        self, loras: tuple[tuple[str, float], ...], progress: Callable[[str], None] | None = None
    ) -> None:
        """Use exactly these LoRA styles from now on (a frame's ``loras`` also asks for
        them); a LiveCanvasError, with the styles as they were, for one that cannot be
        used."""
        ...

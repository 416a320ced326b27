"""Finish (A1111's "hires fix"): the picture shown, upscaled and refined by the model into a
full-quality picture of a larger size.

1. The picture is upscaled to the finished size (``FinishRequest.target_size``: size × scale,
   to a multiple of 8) with Pillow's Lanczos filter (``sketch.fit_picture``: the resampling
   diffusers' image processor uses for an img2img pipeline's picture); the sketch is resized
   to the same size as the control image, as frames resize sketches (bilinear, antialiased,
   on the device).
2. The image-to-image pass (``img2img.denoise``: diffusers' ControlNet img2img pipelines step
   for step) runs ``steps`` × ``strength`` steps from the upscaled picture encoded by the full
   VAE, guided by the upscaled sketch, with the first pass's prompt, seed and control scale.
3. The full VAE decodes the result. When the plain decode would not fit in the memory free
   now (``torch.cuda.mem_get_info`` on CUDA, the available RAM on the CPU; an estimate from
   the decoder's width, see ``decode_bytes``), and as a retry after the plain decode ran out
   of memory, it decodes in tiles with diffusers' own ``AutoencoderKL`` tiling, which overlaps
   the tiles by a quarter and blends the overlaps linearly, so no seam shows
   (tests/test_finish.py decodes a flat picture both ways). The picture's encode is tiled in
   the same case (diffusers tiles encodes alike).

The finished picture is decoded at full quality already: its ``FrameResult`` has no latents,
and exports as it is. Progress is reported in three stages: "encode" (the picture into
latents), "refine" (each step, with the time left: the steps to go at the pace so far, plus
the decode as long as this engine's last one took per pixel, or twice the encode before any)
and "decode".
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.settings_table import SETTINGS
from desktop_app.core.types import FinishProgress, FinishRequest, FrameResult, GenerationParams
from desktop_app.engine import img2img
from desktop_app.engine.device import StageClock
from desktop_app.engine.outputs import (
    is_out_of_memory,
    out_of_memory_says_so,
    timings_of,
    to_uint8,
)

MAX_FINISHED_SIDE = 4096  # 2048 (the largest frame) × 2; the wire's largest picture too
TILE_PX = 512  # a decoder tile's side in pixels; overlaps are diffusers' quarter of it
SMALLEST_TILE_PX = 256
# Bytes a plain decode takes per output pixel, per byte of the decoder's widest full-size
# activation (its first block's channels × element size): measured on the SD/SDXL VAE at
# 256-768 px on a CPU (about 10.7), with room for the allocator's slack.
_DECODE_BYTES_PER_PIXEL_CHANNEL = 12
_HEADROOM = 0.8  # of the free memory a plain decode may count on
_decode_s_per_px: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

Progress = Callable[[FinishProgress], None]


@dataclass(frozen=True)
class FinishPass:
    """The image-to-image pass at the finished size (``img2img.PassInputs``): a finished size
    need not be a frame size (a multiple of 64 up to 2048), so this is not an
    ``Img2ImgRequest``."""

    sketch: np.ndarray
    init: np.ndarray
    prompt: str
    strength: float
    steps: int
    seed: int
    control_scale: float
    size: int


def finish(
    engine,
    request: FinishRequest,
    progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> FrameResult:
    """``request`` finished on ``engine`` (a ``renderer.Engine``); see the module docstring."""
    target = request.target_size
    if target > MAX_FINISHED_SIDE:
        raise InvalidRequestError(
            f"the finished picture would be {target}x{target}; the largest Finish makes is "
            f"{MAX_FINISHED_SIDE}x{MAX_FINISHED_SIDE}: choose a smaller scale"
        )
    should_cancel = should_cancel or _never
    engine.set_loras(request.loras)
    advice = "try a smaller finish scale, or fewer styles" if request.loras else (
        "try a smaller finish scale"
    )
    steps = _Reporter(engine, progress, target)
    pass_ = FinishPass(
        sketch=request.sketch,
        init=request.picture,
        prompt=request.prompt,
        strength=request.strength,
        steps=request.steps,
        seed=request.seed,
        control_scale=request.control_scale,
        size=target,
    )
    with (
        torch.inference_mode(),
        out_of_memory_says_so(engine.device, target, advice),
        engine.cancel_points.armed(should_cancel),
    ):
        clock = StageClock(engine.device)
        tiled = needs_tiles(engine, target)
        steps.say("encode", 0, 1)
        with vae_tiles(engine.parts.vae, tiled):
            latents, text = img2img.denoise(engine, pass_, should_cancel, clock, steps.refine)
        steps.say("decode", 0, 1)
        decoded = decode(engine, latents, tiled)
        clock.lap()  # decode
        image = to_uint8(decoded)
        clock.lap()  # convert
        steps.decoded()
    params = replace(
        first_pass_of(engine, request),
        hires_upscale=request.scale,
        hires_steps=request.steps,
        denoising_strength=request.strength,
    )
    return FrameResult(
        image=image,
        params=params,
        timings=timings_of(clock),
        request_id=request.request_id,
        latents=None,  # decoded by the full VAE already: it exports as it is
        warnings=text.warnings,
        load_id=engine.load_id,
    )


def first_pass_of(engine, request: FinishRequest) -> GenerationParams:
    """What made the picture: the request's ``first_pass``, else a one-step scribble frame of
    its prompt, seed and control scale on this model."""
    if request.first_pass is not None:
        return request.first_pass
    return GenerationParams(
        prompt=request.prompt,
        seed=request.seed,
        steps=SETTINGS["steps"].default,
        size=request.size,
        model=engine.info.model,
        mode="scribble",
        control_scale=request.control_scale,
        strength=None,
        sampler=engine.sampling.name,
        licence=engine.info.licence,
        loras=engine.loras.used,
    )


# -- the decode ----------------------------------------------------------------------------


def decode(engine, latents: torch.Tensor, tiled: bool) -> torch.Tensor:
    """The full VAE's decode of ``latents``: in tiles when ``tiled``, or after the plain
    decode ran out of memory."""
    if not tiled:
        try:
            return engine._decode_full(latents)
        except RuntimeError as err:
            if not is_out_of_memory(err):
                raise
        # Out of the handler: the failed attempt's tensors (held by its traceback) are freed.
        _release(engine.device)
    with vae_tiles(engine.parts.vae, True, tile_px(engine, latents.shape[-1] * 8)):
        return engine._decode_full(latents)


def needs_tiles(engine, side: int) -> bool:
    """Whether a plain decode of a ``side``² picture would not fit in the memory free now
    (with headroom); False where it cannot be told (MPS): the plain decode is tried first."""
    free = free_bytes(engine.device)
    return free is not None and decode_bytes(engine, side) > _HEADROOM * free


def decode_bytes(engine, side: int) -> int:
    """About what a plain decode of a ``side``² picture takes, beyond the weights."""
    vae = engine.parts.vae
    channels = int(getattr(vae.config, "block_out_channels", (128,))[0])
    element = torch.finfo(engine.vae_dtype).bits // 8
    return _DECODE_BYTES_PER_PIXEL_CHANNEL * channels * element * side * side


def free_bytes(device: torch.device) -> int | None:
    """Memory a decode can use now: on CUDA the device's free memory plus what torch's cache
    holds unused, on the CPU the available RAM; None elsewhere."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + cached)
    if device.type == "cpu":
        import psutil  # type: ignore[import-untyped]  # a dependency of accelerate

        return int(psutil.virtual_memory().available)
    return None


def tile_px(engine, side: int) -> int:
    """The tile side for a tiled decode: ``TILE_PX``, halved while a tile would not fit (down
    to ``SMALLEST_TILE_PX``), and never more than the picture."""
    size = TILE_PX
    free = free_bytes(engine.device)
    while free is not None and size > SMALLEST_TILE_PX and decode_bytes(engine, size) > free:
        size //= 2
    return min(size, side)


@contextlib.contextmanager
def vae_tiles(vae, on: bool, tile: int = TILE_PX) -> Iterator[None]:
    """The VAE's encode and decode tiled by diffusers (tiles of ``tile`` pixels, overlapping
    by a quarter, blended) within the block; as it was after it. A VAE without diffusers'
    tiling (a tiny one) runs plain."""
    if not on or not hasattr(vae, "use_tiling") or not hasattr(vae, "tile_latent_min_size"):
        yield
        return
    saved = (vae.use_tiling, vae.tile_sample_min_size, vae.tile_latent_min_size)
    downscale = 2 ** (len(vae.config.block_out_channels) - 1)
    vae.use_tiling, vae.tile_sample_min_size, vae.tile_latent_min_size = (
        True,
        tile,
        tile // downscale,
    )
    try:
        yield
    finally:
        vae.use_tiling, vae.tile_sample_min_size, vae.tile_latent_min_size = saved


def _release(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _never() -> bool:
    return False


# -- progress ------------------------------------------------------------------------------


class _Reporter:
    """``FinishProgress`` for ``progress`` as the pass goes, with the time left."""

    def __init__(self, engine, progress: Progress | None, side: int):
        self._engine = engine
        self._progress = progress
        self._pixels = side * side
        self._start = time.perf_counter()
        self._encoded_s = 0.0
        self._refine_start = self._start
        self._decode_start = self._start

    def _elapsed(self) -> float:
        return time.perf_counter() - self._start

    def say(self, stage: str, step: int, steps: int, left: float | None = None) -> None:
        if stage == "decode" and step == 0:
            self._decode_start = time.perf_counter()
            left = self._decode_guess()
        if self._progress is not None:
            self._progress(FinishProgress(stage, step, steps, self._elapsed(), left))

    def refine(self, done: int, total: int) -> None:
        """``img2img.denoise``'s ``on_step``: 0 once the picture is encoded, then each step."""
        now = time.perf_counter()
        if done == 0:
            self._encoded_s = now - self._start
            self._refine_start = now
            self.say("encode", 1, 1)
            self.say("refine", 0, total)
            return
        per_step = (now - self._refine_start) / done
        self.say("refine", done, total, per_step * (total - done) + self._decode_guess())

    def decoded(self) -> None:
        took = time.perf_counter() - self._decode_start
        _decode_s_per_px[self._engine] = took / self._pixels
        self.say("decode", 1, 1, 0.0)

    def _decode_guess(self) -> float:
        rate = _decode_s_per_px.get(self._engine)
        return 2.0 * self._encoded_s if rate is None else rate * self._pixels

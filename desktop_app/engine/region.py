"""Region frames on the engine: only a crop around the region is rendered, then pasted over the
kept picture (``core/region.py`` says where the crop lies and how it is pasted;
docs/REGIONS.md).

The crop is rendered as the full frame would render that part of the page:

- the ControlNet sees the crop of the page's conditioning (the sketch fitted to the page as a
  frame fits it, then cut), so the lines are where the full frame has them;
- the noise is the slice of the page's noise (``Engine.noise(seed, size)``) under the crop,
  so a region covering the whole page renders the full frame, bit for bit;
- SDXL's size conditioning says what the crop is: original size the page, crop top-left the
  crop's offset, target size the crop (the page's own [S, S, 0, 0, S, S] for the whole page);
- in colour mode the kept picture under the crop is the starting point, encoded as colour
  mode encodes the sketch's colours.

A crop under the model's useful minimum is rendered larger (``core.region.render_shape``):
the conditioning and the kept picture are resized to the rendered shape, and the noise is the
slice a full frame at that larger scale would have (drawn from the seed for that page shape):
upsampling the page's own noise would make neighbouring latents equal, which the models draw
as blur. Compiled forwards are specialised on shapes, and on a GPU they cost a fraction of
the eager ones whatever the crop: a compiled engine renders the whole page and pastes the
region of it (the same picture outside the region and its feather, and inside it what a crop
covering the page gives). A crop sent by a client (``render_sent_crop``) runs the eager
forwards (``forwards.eager_forwards``) rather than compiling (and on CUDA recording) a graph
for every crop shape a stroke makes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import torch

from desktop_app.core.errors import InvalidRequestError, RenderCancelled
from desktop_app.core.region import Box, compose, crop_box, fit_crop, mask_at_size, render_shape
from desktop_app.core.types import FrameResult, RenderRequest
from desktop_app.engine.device import StageClock
from desktop_app.engine.forwards import eager_forwards
from desktop_app.engine.outputs import out_of_memory_says_so, timings_of, to_uint8
from desktop_app.engine.sketch import control_from_canvas, control_from_sketch, to_device_image
from desktop_app.engine.text import TextConditioning


@dataclasses.dataclass(frozen=True)
class CropPlan:
    """Where a region frame's crop lies on the page and the shape it is rendered at."""

    box: Box
    shape: tuple[int, int]  # (height, width) rendered
    page: int

    @property
    def scaled(self) -> bool:
        return self.shape != (self.box.height, self.box.width)

    @property
    def whole_page(self) -> bool:
        return self.shape == (self.page, self.page)


def plan(region: np.ndarray, size: int, feather: int, family: str) -> tuple[np.ndarray, CropPlan]:
    """The page-sized mask and the crop of a region frame."""
    mask = mask_at_size(region, size)
    box = crop_box(mask, feather)
    return mask, CropPlan(box, render_shape(box, size, family), size)


def render_region(
    engine, req: RenderRequest, should_cancel: Callable[[], bool], clock: StageClock
) -> FrameResult:
    """``req`` (a region frame) on ``engine`` (a ``renderer.Engine``, LoRA styles applied and
    cancel points armed): the whole composed picture, ``params.composed`` set, no latents (a
    composed picture exports as it is shown)."""
    assert req.region is not None and req.keep is not None, "RenderRequest checks both"
    mask, crop = plan(req.region, req.size, req.feather, engine.info.family)
    if engine.compiled:
        # Compiled forwards replay the page's graphs in a fraction of an eager crop's time
        # (measured on an H200: 21 ms for the compiled page, 85 ms for an eager 256² crop,
        # where kernel launches, not pixels, set the cost): render the page, keep the region.
        crop = CropPlan(Box(0, 0, req.size, req.size), (req.size, req.size), req.size)
    control = _cut(engine.page_control(req)[0], crop.box)
    kept = crop.box.cut(req.keep) if req.mode == "colour" else None
    pixels, text = render_crop(engine, req, crop, control, kept, should_cancel, clock)
    image = compose(req.keep, fit_crop(pixels, crop.box), crop.box, mask, req.feather)
    clock.lap()  # convert: the host copy, the resize and the paste
    return _result(engine, req, image, clock, text)


@torch.inference_mode()
def render_sent_crop(
    engine, req: RenderRequest, box: Box, should_cancel: Callable[[], bool]
) -> FrameResult:
    """A served region frame's crop (``Engine.render_crop``): ``req.sketch`` is the crop of
    the page's sketch, and in colour mode ``req.colour`` the crop of the kept picture; the
    result's ``image`` is the rendered crop at the box's shape, for the client to paste.
    LoRA styles, cancelling and running out of memory as ``Engine.render``."""
    engine.set_loras(req.loras)
    with (
        out_of_memory_says_so(engine.device, req.size),
        engine.cancel_points.armed(should_cancel),
    ):
        return _sent_crop(engine, req, box, should_cancel)


def _sent_crop(
    engine, req: RenderRequest, box: Box, should_cancel: Callable[[], bool]
) -> FrameResult:
    if engine._cuda_graphs:
        torch.compiler.cudagraph_mark_step_begin()
    clock = StageClock(engine.device)
    check_sent_crop(req, box)
    crop = CropPlan(box, render_shape(box, req.size, engine.info.family), req.size)
    if engine.device.type == "cpu" and req.mode != "colour":  # as page_control makes it
        control = control_from_sketch(req.sketch, engine.dtype)
    else:
        control = control_from_canvas(to_device_image(req.sketch, engine.device, engine.dtype))
    pixels, text = render_crop(engine, req, crop, control, req.colour, should_cancel, clock)
    image = fit_crop(pixels, box)
    clock.lap()  # convert
    return _result(engine, req, image, clock, text)


def check_sent_crop(req: RenderRequest, box: Box) -> None:
    """The crop's images must be the box's shape (the box itself is checked on the wire)."""
    if req.sketch.shape[:2] != (box.height, box.width):
        h, w = req.sketch.shape[:2]
        raise InvalidRequestError(
            f"the crop's sketch is {w}x{h}, and its box {box.width}x{box.height}"
        )
    if req.mode == "colour" and (req.colour is None or req.colour.shape != req.sketch.shape):
        raise InvalidRequestError("a colour-mode crop needs the kept picture's crop")


def _result(engine, req: RenderRequest, image: np.ndarray, clock: StageClock, text) -> FrameResult:
    return FrameResult(
        image=image,
        params=dataclasses.replace(engine._params(req), composed=True),
        timings=timings_of(clock),
        request_id=req.request_id,
        latents=None,  # a composed picture exports as it is shown
        warnings=text.warnings,
        load_id=engine.load_id,
    )


def render_crop(
    engine,
    req: RenderRequest,
    crop: CropPlan,
    control: torch.Tensor,
    kept: np.ndarray | None,
    should_cancel: Callable[[], bool],
    clock: StageClock,
) -> tuple[np.ndarray, TextConditioning]:
    """The crop's pixels (RGB uint8 at ``crop.shape``) before pasting, and the prompt's
    encoding, from the crop's ControlNet input ``control`` (at the box's shape) and in colour
    mode the kept picture's crop ``kept``; ``clock`` laps after the preprocessing, the text
    encoding, the steps and the decoding."""
    colour = req.mode == "colour"
    sched = engine.schedule(req.steps, req.strength if colour else None)
    control = _fit(control, crop.shape)
    noise = crop_noise(engine, req.seed, crop)
    if colour:
        assert kept is not None, "colour mode starts from the kept picture"
        image01 = to_device_image(kept, engine.device, engine.dtype)
        start = engine.encode_image(_fit(image01, crop.shape)).float()
        latents = (start + noise * sched.sigmas[0]).contiguous()
    else:
        latents = noise * sched.start_scale
    clock.lap()  # preprocess

    text = engine.prompts.encode(req.prompt)
    clock.lap()  # text encode

    added = None
    if engine.is_sdxl:
        added = {"text_embeds": text.pooled, "time_ids": time_ids(engine, crop)}
    parts = engine.parts
    compiled = (parts.unet, parts.controlnet, getattr(parts.tae, "decoder", None))
    with eager_forwards(compiled if engine.compiled and not crop.whole_page else ()):
        latents = engine.denoise(sched, control, latents, text, added, req, should_cancel)
        clock.lap()  # denoise
        if should_cancel():
            raise RenderCancelled("the frame was cancelled")
        decoded = engine._decode_preview(latents)
    clock.lap()  # decode
    return to_uint8(decoded), text


def crop_noise(engine, seed: int, crop: CropPlan) -> torch.Tensor:
    """The page's noise under the crop; for a crop rendered larger, the slice of the noise a
    full frame at that scale would have (see the module docstring)."""
    box = crop.box
    if not crop.scaled:
        page = engine.noise(seed, crop.page)
        return page[..., box.top // 8 : box.bottom // 8, box.left // 8 : box.right // 8]
    (height, width), (sy, sx) = crop.shape, (crop.shape[0] / box.height, crop.shape[1] / box.width)
    rows, cols = math.ceil(crop.page * sy / 8), math.ceil(crop.page * sx / 8)
    gen = torch.Generator("cpu").manual_seed(seed)
    page = torch.randn((1, 4, rows, cols), generator=gen)
    top = min(round(box.top * sy / 8), rows - height // 8)
    left = min(round(box.left * sx / 8), cols - width // 8)
    return page[..., top : top + height // 8, left : left + width // 8].to(engine.device)


def time_ids(engine, crop: CropPlan) -> torch.Tensor:
    """SDXL's size conditioning for the crop (original size, crop top-left, target size), at
    the rendered scale: the page, the crop's offset on it, the crop."""
    (height, width), box = crop.shape, crop.box
    sy, sx = height / box.height, width / box.width
    page_h, page_w = round(crop.page * sy), round(crop.page * sx)
    ids = [page_h, page_w, round(box.top * sy), round(box.left * sx), height, width]
    return torch.tensor([ids], dtype=engine.dtype).to(engine.device)


def _cut(image: torch.Tensor, box: Box) -> torch.Tensor:
    return image[..., box.top : box.bottom, box.left : box.right].contiguous()


def _fit(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A (1, C, H, W) image resized to ``shape`` as the page's sketch is resized (bilinear,
    antialiased); unchanged at that shape already."""
    if tuple(image.shape[-2:]) == shape:
        return image
    return torch.nn.functional.interpolate(
        image.float(), size=shape, mode="bilinear", antialias=True, align_corners=False
    ).to(image.dtype)

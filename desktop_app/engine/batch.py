"""Several frames in one forward: frames from different windows that share the model, the
size, the step count and the LoRA styles are stacked along the batch dimension, each with its
own prompt embedding, sketch, noise (seed), control scale, strength and mode.

Only the model forwards (the ControlNet, the UNet, the tiny decoder) run batched: they are
what a GPU does better several at a time. Everything a frame does on its own (its start
latents, its schedule, its Euler steps) is the single frame's own code, run on the frame's
slice, so a batched frame is the same frame rendered alone (to rounding: a convolution may
pick another algorithm for another batch size). Each sample has its own timestep (colour
frames of other strengths start at other noise levels) and its own control scale: the
ControlNet runs at scale 1 and its residuals are scaled per sample, which is the product it
would take itself.

Prompts are encoded once per distinct prompt (kept for the next batches, keyed with the
styles fused in, since a style may change the text encoders).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from desktop_app.core.errors import InvalidRequestError, RenderCancelled
from desktop_app.core.types import FrameResult, RenderRequest
from desktop_app.engine.device import StageClock
from desktop_app.engine.outputs import out_of_memory_says_so, timings_of, to_uint8
from desktop_app.engine.sampling import Schedule
from desktop_app.engine.text import TextConditioning

_PROMPT_CACHE_SIZE = 32  # an artist's prompt changes far less often than their strokes


def batch_key(request: RenderRequest) -> tuple:
    """Frames with equal keys can share a forward: same size (tensor shapes), same step count
    (they step in lock-step) and the same LoRA styles (fused into the weights)."""
    return (request.size, request.steps, request.loras)


@dataclass(frozen=True)
class _Sample:
    request: RenderRequest
    schedule: Schedule
    text: TextConditioning


class PromptCache:
    """Text conditionings by (prompt, styles fused in), the least recently used dropped."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple, TextConditioning] = OrderedDict()

    def encode(self, engine, prompt: str) -> TextConditioning:
        key = (prompt, engine.loras.applied)
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key]
        engine.prompts.forget()  # the encoder's own one-prompt cache may hold another's
        text = engine.prompts.encode(prompt)
        self._kept[key] = text
        while len(self._kept) > _PROMPT_CACHE_SIZE:
            self._kept.popitem(last=False)
        return text


@torch.inference_mode()
def render_batch(
    engine,
    requests: Sequence[RenderRequest],
    should_cancel: Callable[[], bool] | None = None,
    prompts: PromptCache | None = None,
) -> list[FrameResult]:
    """The frames of ``requests`` (equal ``batch_key``s) in one forward per model and step;
    ``should_cancel`` stops the whole batch (at the next model block) and raises
    ``RenderCancelled``: a caller passes "every frame of it was given up"."""
    if not requests:
        return []
    if any(r.is_region_frame for r in requests):
        raise InvalidRequestError("a region frame renders alone, not in a batch")
    if len({batch_key(r) for r in requests}) != 1:
        raise InvalidRequestError("frames of other sizes, step counts or styles in one batch")
    should_cancel = should_cancel or (lambda: False)
    engine.set_loras(requests[0].loras)
    with (
        out_of_memory_says_so(engine.device, requests[0].size),
        engine.cancel_points.armed(should_cancel),
    ):
        return _render(engine, requests, should_cancel, prompts or PromptCache())


def _render(engine, requests, should_cancel, prompts: PromptCache) -> list[FrameResult]:
    clock = StageClock(engine.device)
    if engine._cuda_graphs:
        torch.compiler.cudagraph_mark_step_begin()  # as Engine._render: one generation a batch
    schedules = [engine.schedule(r.steps, r.strength if r.mode == "colour" else None)
                 for r in requests]
    starts = [engine._start_latents(r, s) for r, s in zip(requests, schedules, strict=True)]
    clock.lap()  # preprocess
    texts: dict[str, TextConditioning] = {}
    for r in requests:
        if r.prompt not in texts:
            texts[r.prompt] = prompts.encode(engine, r.prompt)
    samples = [_Sample(r, s, texts[r.prompt]) for r, s in zip(requests, schedules, strict=True)]
    clock.lap()  # text encode
    control = torch.cat([c for c, _ in starts])
    latents = _denoise(engine, samples, control, [x for _, x in starts], should_cancel)
    clock.lap()  # denoise
    if should_cancel():
        raise RenderCancelled("the frame was cancelled")
    decoded = _decode(engine, latents)
    clock.lap()  # decode
    images = [to_uint8(picture) for picture in decoded]
    clock.lap()  # convert
    timings = timings_of(clock)
    return [
        FrameResult(
            image=image,
            params=engine._params(sample.request),
            timings=timings,
            request_id=sample.request.request_id,
            latents=lat,
            warnings=sample.text.warnings,
            load_id=engine.load_id,
        )
        for sample, image, lat in zip(samples, images, latents, strict=True)
    ]


def _decode(engine, latents: list[torch.Tensor]) -> list[torch.Tensor]:
    """The preview decoder's pictures: one forward on a GPU; one at a time on a CPU, where a
    batch of 512² activations outgrows the caches (measured: a batch of 4 took 2.5 times
    the time of 4 one by one, docs/SERVING.md)."""
    if engine.device.type == "cpu":
        return [engine._decode_preview(x) for x in latents]
    decoded = engine._decode_preview(torch.cat(latents))
    return [decoded[i : i + 1] for i in range(len(latents))]


def _denoise(engine, samples, control, latents, should_cancel) -> list[torch.Tensor]:
    """Each sample's latents after its steps: the forwards batched, the arithmetic per sample
    exactly as ``Engine._denoise`` does it for one frame."""
    embeds = torch.cat([s.text.embeds for s in samples])
    added = _added_cond(engine, samples)
    scales = [s.request.control_scale for s in samples]
    for step in range(len(samples[0].schedule.timesteps)):
        if should_cancel():
            raise RenderCancelled("the frame was cancelled")
        model_in = torch.cat([
            (x / math.sqrt(s.schedule.sigmas[step] ** 2 + 1.0)).to(engine.dtype)
            for s, x in zip(samples, latents, strict=True)
        ])
        t = torch.stack([s.schedule.timesteps[step] for s in samples])
        out = _predict(engine, model_in, t, embeds, control, added, scales)
        latents = [
            engine.sampling.euler_step(
                out[i : i + 1], x, s.schedule.sigmas[step], s.schedule.sigmas[step + 1]
            )
            for i, (s, x) in enumerate(zip(samples, latents, strict=True))
        ]
    return [
        x * s.schedule.end_scale if s.schedule.end_scale is not None else x
        for s, x in zip(samples, latents, strict=True)
    ]


def _added_cond(engine, samples) -> dict | None:
    if not engine.is_sdxl:
        return None
    one = engine._added_cond(samples[0].text.pooled, samples[0].request.size)
    return {
        "text_embeds": torch.cat([s.text.pooled for s in samples]),
        "time_ids": one["time_ids"].expand(len(samples), -1),
    }


def _predict(engine, model_in, t, embeds, control, added, scales) -> torch.Tensor:
    """``Engine.predict`` for a batch: the ControlNet at scale 1, its residuals scaled per
    sample (a frame at scale 0 gets zeros, which leave the UNet's sums as they are)."""
    parts, residuals = engine.parts, {}
    if any(scale > 0 for scale in scales) or engine.compiled:
        one: float | torch.Tensor = 1.0
        if engine.compiled:
            one = torch.ones((), device=engine.device)  # the graph single frames use
        down, mid = parts.controlnet(
            model_in,
            t,
            encoder_hidden_states=embeds,
            controlnet_cond=control,
            conditioning_scale=one,
            added_cond_kwargs=added,
            return_dict=False,
        )
        if len(set(scales)) == 1:
            scale: float | torch.Tensor = scales[0]
        else:
            scale = torch.tensor(scales, dtype=mid.dtype, device=mid.device).view(-1, 1, 1, 1)
        residuals = {
            "down_block_additional_residuals": [d * scale for d in down],
            "mid_block_additional_residual": mid * scale,
        }
    return parts.unet(
        model_in,
        t,
        encoder_hidden_states=embeds,
        added_cond_kwargs=added,
        return_dict=False,
        **residuals,
    )[0].float()

"""Image-to-image: a given picture refined for several steps, guided by the sketch (the second
pass of Finish, A1111's "hires fix", and ``live-canvas render --init``).

This is not a frame: nothing here is on the drawing's latency path, so rather than the frame's
own sigma-space Euler it follows diffusers' ``StableDiffusionXLControlNetImg2ImgPipeline`` and
``StableDiffusionControlNetImg2ImgPipeline`` step for step, with diffusers' own scheduler
objects (``Sampling.img2img_scheduler``: the model's scheduler and timestep spacing; trailing
Euler for the turbo models):

- the scheduler is set to ``steps`` steps and the pass runs its last int(steps × strength);
- the picture is encoded by the model's full VAE (not the preview decoder's encoder), scaled
  by its ``scaling_factor``, and noised to the first of those steps by ``add_noise``;
- every step runs the ControlNet on the sketch at the picture's size, then the UNet, then the
  scheduler's ``step``; the result is decoded by the full VAE.

The random numbers, drawn as the pipelines draw them: one ``torch.Generator("cpu")`` seeded
with the request's seed gives first the VAE posterior's sample (``latent_dist.sample``, a
standard normal of the latents' shape in the VAE's dtype), then the noise (a standard normal
of the latents' shape, fp32). A pipeline called with ``generator=torch.Generator("cpu")
.manual_seed(seed)`` in fp32 draws the same numbers in the same order, so the two agree
(tests/test_img2img_equivalence.py). Drawing on the CPU makes a seed give the same picture on
every device; in half precision the engine draws the noise in fp32 (the pipelines in half),
and keeps the latents between steps in fp32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import torch

from desktop_app.core.errors import InvalidRequestError, RenderCancelled
from desktop_app.engine.device import StageClock
from desktop_app.engine.sketch import (
    control_from_canvas,
    fit_picture,
    resize_on_device,
    to_device_image,
)


class PassInputs(Protocol):
    """What a pass reads: an ``Img2ImgRequest``'s fields (Finish's pass at the finished size,
    which need not be a frame size, gives them too)."""

    @property
    def sketch(self) -> np.ndarray: ...
    @property
    def init(self) -> np.ndarray: ...
    @property
    def prompt(self) -> str: ...
    @property
    def strength(self) -> float: ...
    @property
    def steps(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def control_scale(self) -> float: ...
    @property
    def size(self) -> int: ...


def denoise(
    engine,
    req: PassInputs,
    should_cancel: Callable[[], bool],
    clock: StageClock,
    on_step: Callable[[int, int], None] | None = None,
):
    """The latents of ``req``'s picture after its steps, and the prompt's encoding (for its
    warnings), on ``engine`` (a ``renderer.Engine``: LoRA styles applied, cancel points armed);
    ``clock`` laps after the preprocessing, the text encoding and the steps. ``on_step(done,
    total)`` hears 0 once the picture is encoded, then each step as it ends."""
    if engine._cuda_graphs:
        # One CUDA graph generation per pass: each step's outputs are consumed before the next.
        torch.compiler.cudagraph_mark_step_begin()
    scheduler = engine.sampling.img2img_scheduler()
    scheduler.set_timesteps(req.steps, device=engine.device)
    timesteps = _last_timesteps(scheduler, req.steps, req.strength)
    sketch01 = resize_on_device(to_device_image(req.sketch, engine.device, engine.dtype), req.size)
    control = control_from_canvas(sketch01)
    generator = torch.Generator("cpu").manual_seed(req.seed)
    picture = _encode(engine, fit_picture(req.init, req.size), generator)
    noise = torch.randn(picture.shape, generator=generator, dtype=torch.float32)
    latents = scheduler.add_noise(picture, noise.to(engine.device), timesteps[:1])
    clock.lap()  # preprocess

    text = engine.prompts.encode(req.prompt)
    added = engine._added_cond(text.pooled, req.size)
    clock.lap()  # text encode

    say = on_step or _silent
    say(0, len(timesteps))
    for done, t in enumerate(timesteps, 1):
        _check(should_cancel)
        model_in = scheduler.scale_model_input(latents, t).to(engine.dtype)
        out = engine.predict(model_in, t, text, control, added, req.control_scale)
        latents = scheduler.step(out, t, latents, return_dict=False)[0]
        say(done, len(timesteps))
    clock.lap()  # denoise
    _check(should_cancel)
    return latents, text


def _last_timesteps(scheduler, steps: int, strength: float) -> torch.Tensor:
    """The pipelines' ``get_timesteps``: the last int(steps × strength) of the schedule, with
    the scheduler told where it begins (its ``add_noise`` and step count read that)."""
    start = steps - min(int(steps * strength), steps)
    order = scheduler.order
    scheduler.set_begin_index(start * order)
    return scheduler.timesteps[start * order :]


def _encode(engine, picture, generator: torch.Generator) -> torch.Tensor:
    """The picture (RGB uint8 at the size) → scaled fp32 latents, by the model's full VAE: a
    sample of its posterior, as the pipelines take (a tiny VAE, SDXS's own, has no posterior:
    its latents as they are)."""
    vae = engine.parts.vae
    if getattr(vae, "encoder", None) is None:
        raise InvalidRequestError(
            f"image-to-image needs an image encoder, and {engine.info.model}'s own VAE has "
            "only its decoder"
        )
    image = to_device_image(picture, engine.device, engine.vae_dtype) * 2 - 1
    encoded = vae.encode(image)
    dist = getattr(encoded, "latent_dist", None)
    latents = encoded.latents if dist is None else dist.sample(generator)
    return latents.float() * vae.config.scaling_factor


def _silent(_done: int, _total: int) -> None:
    pass


def _check(should_cancel: Callable[[], bool]) -> None:
    if should_cancel():
        raise RenderCancelled("the image-to-image pass was cancelled")

"""The engine's image-to-image pass beyond its equality with diffusers
(test_img2img_equivalence.py): which scheduler it steps with, cancelling, and its export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DEISMultistepScheduler, EulerDiscreteScheduler

from desktop_app.core.errors import RenderCancelled
from desktop_app.core.types import Img2ImgRequest
from desktop_app.engine.builders import SD15_SCHEDULER
from desktop_app.engine.parts import TURBO_SCHEDULER
from desktop_app.engine.sampling import Sampling


def _request(sketch, **kwargs) -> Img2ImgRequest:
    picture = np.zeros((512, 512, 3), np.uint8)
    picture[:, :, 0] = np.arange(512)[None, :] // 2
    return Img2ImgRequest(**{"sketch": sketch, "init": picture, "prompt": "a red apple",
                             "steps": 4, "strength": 0.5, "size": 256, **kwargs})


@pytest.mark.parametrize(
    "config,expected,spacing",
    [
        # SDXL-Turbo's own config names the ancestral Euler: stepped as plain Euler.
        ({**TURBO_SCHEDULER, "_class_name": "EulerAncestralDiscreteScheduler"},
         EulerDiscreteScheduler, "trailing"),
        ({**SD15_SCHEDULER, "_class_name": "EulerDiscreteScheduler",
          "timestep_spacing": "leading"}, EulerDiscreteScheduler, "leading"),
        ({**SD15_SCHEDULER, "_class_name": "DEISMultistepScheduler"}, DEISMultistepScheduler,
         SD15_SCHEDULER.get("timestep_spacing", "linspace")),
        # A scheduler the engine does not follow (SD 1.5's PNDM): the trailing Euler of frames.
        ({**SD15_SCHEDULER, "_class_name": "PNDMScheduler"}, EulerDiscreteScheduler, "trailing"),
    ],
)
def test_img2img_scheduler_is_the_models_own_with_its_spacing(config, expected, spacing):
    scheduler = Sampling(config, torch.device("cpu")).img2img_scheduler()
    assert type(scheduler) is expected
    assert scheduler.config.timestep_spacing == spacing


def test_img2img_schedulers_are_fresh_for_each_pass():
    sampling = Sampling({**TURBO_SCHEDULER, "_class_name": "EulerDiscreteScheduler"},
                        torch.device("cpu"))
    assert sampling.img2img_scheduler() is not sampling.img2img_scheduler()


def test_cancelled_pass_raises(engine, sketch):
    with pytest.raises(RenderCancelled):
        engine.render_img2img(_request(sketch), should_cancel=lambda: True)


def test_pass_is_repeatable_and_exports_as_it_shows(engine, sketch):
    first = engine.render_img2img(_request(sketch, seed=3))
    again = engine.render_img2img(_request(sketch, seed=3))
    np.testing.assert_array_equal(first.image, again.image)
    assert first.image.shape == (256, 256, 3)
    # Decoded by the full VAE already: the export decodes the same latents the same way.
    np.testing.assert_array_equal(engine.export_image(first), first.image)
    assert first.params.mode == "img2img" and first.params.steps == 4


@pytest.mark.parametrize("steps,strength,runs", [(4, 0.5, 2), (4, 1.0, 4), (10, 0.35, 3)])
def test_the_pass_runs_int_steps_times_strength_unet_steps(engine, sketch, steps, strength, runs):
    calls = []
    hook = engine.parts.unet.register_forward_hook(lambda *_: calls.append(1))
    try:
        engine.render_img2img(_request(sketch, steps=steps, strength=strength))
    finally:
        hook.remove()
    assert len(calls) == runs

"""The engine's image-to-image pass against diffusers' own ControlNet img2img pipelines on the
same tiny weights, picture, sketch, prompt, strength, steps and noise.

The noise: both draw it from a ``torch.Generator("cpu")`` seeded with the same seed, in fp32,
in the same order: first the VAE posterior's sample (the pipelines' ``retrieve_latents``
samples ``latent_dist`` with the generator), then the noise that ``prepare_latents`` adds with
the scheduler's ``add_noise``. Nothing is patched: the engine draws the same numbers because
it makes the same draws (``desktop_app/engine/img2img.py``). Guidance 0 makes the pipelines
skip classifier-free guidance; the control scale is given (the img2img pipelines' default is
0.8, the engine's 1). The ControlNet input is the inverted sketch, as in test_equivalence.py.

The engine packs its CPU weights, so the two agree to float rounding, not bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import (
    DEISMultistepScheduler,
    EulerDiscreteScheduler,
    StableDiffusionControlNetImg2ImgPipeline,
    StableDiffusionXLControlNetImg2ImgPipeline,
)
from model_factory import save_tiny_pipeline
from PIL import Image
from test_equivalence import _DEIS_LINSPACE, _EULER_LEADING, PROMPT, SIZE, _sketch

from desktop_app.core.types import Img2ImgRequest
from desktop_app.engine.loading import load_engine

SEED, CONTROL_SCALE = 5, 0.9
# Latents: a tolerance relative to their largest value; pixels: one grey level of rounding.
LATENT_TOLERANCE = 1e-4


def _picture() -> np.ndarray:
    """A smooth colour field with an edge: something a VAE encodes to non-trivial latents."""
    yy, xx = np.mgrid[:SIZE, :SIZE] / SIZE
    rgb = np.stack([xx, yy, 0.5 + 0.5 * np.sin(6 * xx * yy)], axis=-1) * 255
    rgb[100:160, 40:220] = (200, 30, 60)
    return rgb.round().astype(np.uint8)


def _stock(folder, family: str, steps: int, strength: float):
    cls = (
        StableDiffusionXLControlNetImg2ImgPipeline
        if family == "sdxl"
        else StableDiffusionControlNetImg2ImgPipeline
    )
    extra = {} if family == "sdxl" else {"safety_checker": None, "requires_safety_checker": False}
    pipe = cls.from_pretrained(str(folder), **extra)
    pipe.set_progress_bar_config(disable=True)

    def run(output_type: str):
        return pipe(
            prompt=PROMPT,
            image=Image.fromarray(_picture()),
            control_image=Image.fromarray(255 - _sketch()),
            height=SIZE,
            width=SIZE,
            strength=strength,
            num_inference_steps=steps,
            guidance_scale=0.0,
            controlnet_conditioning_scale=CONTROL_SCALE,
            generator=torch.Generator("cpu").manual_seed(SEED),
            output_type=output_type,
        ).images

    pixels = run("np")[0]
    return pipe, run("latent"), np.round(pixels * 255).astype(np.uint8)


def _assert_same_pass(folder, family: str, steps: int, strength: float):
    engine = load_engine(str(folder), device="cpu", dtype="float32")
    request = Img2ImgRequest(
        sketch=_sketch(), init=_picture(), prompt=PROMPT, strength=strength, steps=steps,
        seed=SEED, control_scale=CONTROL_SCALE, size=SIZE,
    )
    result = engine.render_img2img(request)
    pipe, latents, pixels = _stock(folder, family, steps, strength)
    ours = result.latents.float()
    difference = float((ours - latents).abs().max())
    assert difference <= LATENT_TOLERANCE * float(latents.abs().max()), difference
    pixel_difference = int(np.abs(result.image.astype(int) - pixels.astype(int)).max())
    assert pixel_difference <= 1
    # Not the picture unchanged, nor the picture of another seed.
    assert np.abs(result.image.astype(int) - _picture().astype(int)).mean() > 2
    other = engine.render_img2img(
        Img2ImgRequest(**{**request.__dict__, "seed": SEED + 1})
    )
    assert np.abs(other.image.astype(int) - result.image.astype(int)).max() > 8
    largest = float(latents.abs().max())
    print(f"{family} {steps}x{strength}: latents {difference:.2e} of {largest:.3g}, "
          f"pixels {pixel_difference}")
    return engine, pipe, result


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    def make(name: str, family: str, **kwargs):
        return save_tiny_pipeline(tmp_path_factory.mktemp("i2i") / name, family=family, **kwargs)

    return make


@pytest.mark.parametrize("steps,strength", [(4, 0.5), (2, 1.0)])
def test_sdxl_img2img_equals_diffusers_sdxl_controlnet_img2img_pipeline(folders, steps, strength):
    """The turbo models' trailing Euler: at 4 steps and 0.5, t = 499 then 249."""
    engine, pipe, result = _assert_same_pass(folders("sdxl", "sdxl"), "sdxl", steps, strength)
    assert pipe.scheduler.config.timestep_spacing == "trailing"
    assert result.params.mode == "img2img" and result.params.strength == strength


def test_sd21_img2img_equals_diffusers_controlnet_img2img_pipeline(folders):
    _assert_same_pass(folders("sd21", "sd21"), "sd21", 3, 0.7)


def test_sd15_img2img_with_deis_equals_the_stock_pipeline_second_order_steps_too(folders):
    """SDXS's scheduler: 8 steps at 0.5 run DEIS's last four, second-order ones among them."""
    folder = folders("deis", "sd15", scheduler=DEISMultistepScheduler(**_DEIS_LINSPACE))
    engine, pipe, result = _assert_same_pass(folder, "sd15", 8, 0.5)
    assert isinstance(pipe.scheduler, DEISMultistepScheduler)
    assert result.params.sampler == "DEIS"


def test_sd15_img2img_with_leading_euler_equals_the_stock_pipeline(folders):
    """SD 1.5's own Euler spacing ("leading", offset 1), not the turbo models' trailing one."""
    folder = folders("euler", "sd15", scheduler=EulerDiscreteScheduler(**_EULER_LEADING))
    engine, pipe, result = _assert_same_pass(folder, "sd15", 5, 0.6)
    assert pipe.scheduler.config.timestep_spacing == "leading"

"""The engine's frame against diffusers' own ControlNet pipelines on the same tiny weights and
noise: the proof that real weights give the pictures their authors publish.

The stock pipeline loads the folder itself (with the folder's own scheduler), takes the same
standard-normal noise through ``latents=`` and the same ControlNet input (the engine's input
is ink, white lines on black: the sketch inverted), at one step and guidance 0. The engine
steps in sigma space and packs its CPU weights, so the two agree to float rounding, not bit
for bit: the tolerance below is far under what any difference of schedule would make (a
variance-preserving start instead of a sigma start moves the latents by 0.2 %).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from diffusers import (
    DEISMultistepScheduler,
    EulerDiscreteScheduler,
    StableDiffusionControlNetPipeline,
    StableDiffusionXLControlNetPipeline,
)
from model_factory import save_tiny_pipeline
from PIL import Image

from desktop_app.core.types import RenderRequest
from desktop_app.engine.builders import SD15_SCHEDULER
from desktop_app.engine.loading import load_engine

SIZE, SEED, PROMPT = 256, 11, "a lighthouse on a cliff"

# SD 1.5's own Euler configs space timesteps "leading" with an offset; at one step that is
# t=1, and diffusers' Euler then starts from (sigma^2 + 1)^0.5 * noise, not sigma * noise.
_EULER_LEADING = {
    **{k: v for k, v in SD15_SCHEDULER.items() if k != "_class_name"},
    "timestep_spacing": "leading",
    "steps_offset": 1,
}
_DEIS_LINSPACE = {k: v for k, v in SD15_SCHEDULER.items() if k != "_class_name"}


def _sketch() -> np.ndarray:
    """Black lines on white, so that the inverted sketch is exactly the engine's ink."""
    img = np.full((SIZE, SIZE, 3), 255, np.uint8)
    img[60:70, 20:236] = 0
    img[20:236, 120:128] = 0
    yy, xx = np.mgrid[:SIZE, :SIZE]
    img[np.abs(np.hypot(yy - 128, xx - 128) - 80) < 3] = 0
    return img


def _stock(folder, family: str, steps: int, noise: torch.Tensor, sketch: np.ndarray):
    cls = (
        StableDiffusionXLControlNetPipeline
        if family == "sdxl"
        else StableDiffusionControlNetPipeline
    )
    extra = {} if family == "sdxl" else {"safety_checker": None, "requires_safety_checker": False}
    pipe = cls.from_pretrained(str(folder), **extra)
    pipe.set_progress_bar_config(disable=True)
    common = dict(
        prompt=PROMPT,
        image=Image.fromarray(255 - sketch),
        height=SIZE,
        width=SIZE,
        num_inference_steps=steps,
        guidance_scale=0.0,
    )
    latents = pipe(**common, latents=noise.clone(), output_type="latent").images
    pixels = pipe(**common, latents=noise.clone(), output_type="np").images[0]
    return pipe, latents, np.round(pixels * 255).astype(np.uint8)


def _assert_same_frame(folder, family: str, steps: int = 1):
    # In the pipeline's own precision: a CPU with native bf16 (AMX, AVX512-BF16) would
    # otherwise run the engine in bf16, and the comparison would measure the rounding.
    engine = load_engine(str(folder), device="cpu", dtype="float32")
    sketch = _sketch()
    result = engine.render(
        RenderRequest(sketch=sketch, prompt=PROMPT, seed=SEED, size=SIZE, steps=steps)
    )
    pipe, latents, pixels = _stock(folder, family, steps, engine.noise(SEED, SIZE), sketch)
    ours = result.latents.float()
    assert ours.shape == latents.shape
    torch.testing.assert_close(ours, latents, rtol=0, atol=1e-4 * float(latents.abs().max()))
    # The export decodes the same latents with the same full VAE the pipeline decodes with.
    exported = engine.export_image(result).astype(int)
    assert np.abs(exported - pixels.astype(int)).max() <= 1
    return engine, pipe, result


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    def make(name: str, family: str, **kwargs):
        return save_tiny_pipeline(tmp_path_factory.mktemp("eq") / name, family=family, **kwargs)

    return make


def test_sdxl_frame_equals_diffusers_sdxl_controlnet_pipeline(folders):
    _assert_same_frame(folders("sdxl", "sdxl"), "sdxl")


def test_sd21_frame_equals_diffusers_controlnet_pipeline(folders):
    _assert_same_frame(folders("sd21", "sd21"), "sd21")


@pytest.mark.parametrize("steps", [1, 2])
def test_sd15_frame_with_deis_equals_the_stock_pipeline_with_deis(folders, steps):
    """SDXS's scheduler: one step from t=999 out of standard-normal x_VP, ending at t=0's noise
    level. (At two steps both of DEIS's steps are first order, which the engine's are too.)"""
    folder = folders(f"deis{steps}", "sd15", scheduler=DEISMultistepScheduler(**_DEIS_LINSPACE))
    engine, pipe, result = _assert_same_frame(folder, "sd15", steps)
    assert isinstance(pipe.scheduler, DEISMultistepScheduler)
    assert engine.info.family == "sd15" and result.params.sampler == "DEIS"


@pytest.mark.parametrize("steps", [1, 2])
def test_sd15_frame_with_euler_equals_the_stock_pipeline_with_euler(folders, steps):
    folder = folders(f"euler{steps}", "sd15", scheduler=EulerDiscreteScheduler(**_EULER_LEADING))
    engine, pipe, result = _assert_same_frame(folder, "sd15", steps)
    assert isinstance(pipe.scheduler, EulerDiscreteScheduler)
    assert result.params.sampler == "Euler"


def test_sd15_model_whose_own_vae_is_tiny_decodes_with_it(folders):
    """SDXS's layout: ``vae`` is an AutoencoderTiny (told by its config, not its name); the
    frame still equals the stock pipeline, which decodes with that same tiny VAE."""
    folder = folders("tinyvae", "sd15", tiny_vae=True)
    shutil.rmtree(folder / "vae_large")  # else the engine exports with that one
    engine, pipe, _ = _assert_same_frame(folder, "sd15")
    assert type(pipe.vae).__name__ == "AutoencoderTiny"
    assert engine.parts.tae is engine.parts.vae

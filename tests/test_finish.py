"""Finish on the engine (``desktop_app/engine/finish.py``): equal to diffusers' SDXL ControlNet
img2img pipeline given the same upscaled picture, sketch, steps, strength and generator; the
tiled decode without seams; progress, cancel, out of memory and bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, StableDiffusionXLControlNetImg2ImgPipeline
from PIL import Image

from desktop_app.core.errors import DeviceOutOfMemoryError, InvalidRequestError, RenderCancelled
from desktop_app.core.types import FinishRequest, GenerationParams, RenderRequest
from desktop_app.engine import finish as finish_module
from desktop_app.engine.loading import load_engine
from desktop_app.engine.outputs import to_uint8
from desktop_app.engine.sketch import (
    control_from_canvas,
    fit_picture,
    resize_on_device,
    to_device_image,
)

SIDE, PROMPT, SEED, CONTROL = 128, "a lighthouse on a cliff", 7, 0.9


def _picture(side: int = SIDE) -> np.ndarray:
    yy, xx = np.mgrid[:side, :side] / side
    rgb = np.stack([xx, yy, 0.5 + 0.5 * np.sin(6 * xx * yy)], axis=-1) * 255
    rgb[side // 3 : side // 2, side // 6 : side * 5 // 6] = (200, 30, 60)
    return rgb.round().astype(np.uint8)


def _sketch(side: int = SIDE) -> np.ndarray:
    img = np.full((side, side, 3), 255, np.uint8)
    yy, xx = np.mgrid[:side, :side]
    img[np.abs(np.hypot(yy - side / 2, xx - side / 2) - side / 3) < 2] = 0
    img[side // 4 : side // 4 + 3, 10 : side - 10] = 0
    return img


def _request(**kwargs) -> FinishRequest:
    fields = dict(picture=_picture(), sketch=_sketch(), prompt=PROMPT, seed=SEED,
                  control_scale=CONTROL, scale=2.0, steps=4, strength=0.5)
    return FinishRequest(**{**fields, **kwargs})


@pytest.fixture(scope="module")
def fp32_engine(tiny_folder):
    return load_engine(str(tiny_folder), device="cpu", dtype="float32")


@pytest.mark.parametrize("scale,steps,strength", [(2.0, 4, 0.5), (1.5, 3, 1.0)])
def test_finish_equals_diffusers_sdxl_controlnet_img2img_pipeline(
    tiny_folder, fp32_engine, scale, steps, strength
):
    """The pipeline is given the picture upscaled as Finish upscales it (Lanczos) and the
    control image Finish makes of the sketch at that size; the same generator seed."""
    request = _request(scale=scale, steps=steps, strength=strength)
    target = request.target_size
    result = fp32_engine.finish(request)
    assert result.image.shape == (target, target, 3)

    sketch01 = resize_on_device(to_device_image(_sketch(), torch.device("cpu"), torch.float32),
                                target)
    pipe = StableDiffusionXLControlNetImg2ImgPipeline.from_pretrained(str(tiny_folder))
    pipe.set_progress_bar_config(disable=True)
    stock = pipe(
        prompt=PROMPT,
        image=Image.fromarray(fit_picture(_picture(), target)),
        control_image=control_from_canvas(sketch01),
        height=target,
        width=target,
        strength=strength,
        num_inference_steps=steps,
        guidance_scale=0.0,
        controlnet_conditioning_scale=CONTROL,
        generator=torch.Generator("cpu").manual_seed(SEED),
        output_type="np",
    ).images[0]
    pixels = np.round(stock * 255).astype(np.uint8)
    assert np.abs(result.image.astype(int) - pixels.astype(int)).max() <= 1
    # Not merely the upscaled picture: the model changed it.
    upscaled = fit_picture(_picture(), target)
    assert np.abs(result.image.astype(int) - upscaled.astype(int)).mean() > 2


def test_finished_result_carries_the_first_pass_with_the_hires_fields(engine):
    first = GenerationParams(prompt=PROMPT, seed=SEED, steps=1, size=SIDE, model="m",
                             mode="colour", control_scale=CONTROL, strength=0.6)
    result = engine.finish(_request(first_pass=first, scale=1.5, steps=2, strength=0.5))
    assert result.params == replace(first, hires_upscale=1.5, hires_steps=2,
                                    denoising_strength=0.5)
    assert result.latents is None  # it exports as it is
    assert engine.export_image(result) is result.image
    plain = engine.finish(_request(steps=2, strength=0.5)).params
    assert (plain.size, plain.seed, plain.mode, plain.hires_upscale) == (SIDE, SEED, "scribble", 2)


@pytest.mark.parametrize("side", [512, 768])
def test_one_and_a_half_times_a_frame_size_finishes(engine, side):
    """768 and 1152 are multiples of 8, not of 64 (the frame sizes): Finish makes them."""
    request = _request(picture=_picture(side), sketch=_sketch(side), scale=1.5, steps=1,
                       strength=1.0)
    assert engine.finish(request).image.shape == (side * 3 // 2, side * 3 // 2, 3)


def test_progress_reports_every_step_in_order(engine):
    heard = []
    engine.finish(_request(steps=8, strength=0.5), progress=heard.append)
    stages = [(p.stage, p.step, p.steps) for p in heard]
    assert stages == [
        ("encode", 0, 1), ("encode", 1, 1),
        ("refine", 0, 4), ("refine", 1, 4), ("refine", 2, 4), ("refine", 3, 4), ("refine", 4, 4),
        ("decode", 0, 1), ("decode", 1, 1),
    ]
    elapsed = [p.elapsed_s for p in heard]
    assert elapsed == sorted(elapsed)
    refining = [p for p in heard if p.stage == "refine" and p.step > 0]
    assert all(p.left_s is not None and p.left_s >= 0 for p in refining)
    assert heard[-1].left_s == 0.0


@pytest.mark.parametrize("stop_at", [("refine", 2), ("decode", 0)])
def test_cancel_raises_render_cancelled_and_the_engine_goes_on(engine, sketch, stop_at):
    """Asked mid-way through the steps, or once the decode has begun (the decoder's blocks
    poll it)."""
    asked = []

    def progress(p):
        if (p.stage, p.step) == stop_at:
            asked.append(True)

    with pytest.raises(RenderCancelled):
        engine.finish(_request(steps=8), progress=progress, should_cancel=lambda: bool(asked))
    assert engine.render(RenderRequest(sketch=sketch, size=128)).image.shape == (128, 128, 3)


def _out_of_memory(*_args, **_kwargs):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_in_the_unet_is_said_and_the_next_frame_renders(engine, sketch,
                                                                      monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(engine.parts.unet, "forward", _out_of_memory)
        with pytest.raises(DeviceOutOfMemoryError, match="256x256: try a smaller finish scale"):
            engine.finish(_request())
    assert engine.render(RenderRequest(sketch=sketch, size=128)).image.shape == (128, 128, 3)


def test_a_plain_decode_out_of_memory_is_retried_in_tiles(engine, monkeypatch):
    vae = engine.parts.vae
    plain = vae.decoder.forward
    calls = []

    def decoder(sample, *args, **kwargs):
        calls.append(tuple(sample.shape[-2:]))
        if sample.shape[-1] == 32:  # the whole 256² picture's latents: "too big"
            _out_of_memory()
        return plain(sample, *args, **kwargs)

    monkeypatch.setattr(finish_module, "needs_tiles", lambda *_: False)
    monkeypatch.setattr(finish_module, "TILE_PX", 64)
    monkeypatch.setattr(finish_module, "free_bytes", lambda _device: None)
    monkeypatch.setattr(vae.decoder, "forward", decoder)
    result = engine.finish(_request())
    assert result.image.shape == (256, 256, 3)
    assert calls[0] == (32, 32) and len(calls) > 2 and max(calls[1:]) == (8, 8)
    assert not vae.use_tiling  # as it was


def test_the_tiled_decode_of_a_flat_picture_shows_no_tile_edges():
    """A flat grey picture's latents decoded whole and in 64-pixel tiles by diffusers'
    blended tiling (``vae_tiles``, as Finish decodes), in grey levels: where a tile begins
    and where the blend into it ends, the step from one column (row) to the next is no larger
    than the whole decode's steps in its interior, give or take a level. Tiles placed side by
    side without the blend show their edges there: the check sees a seam.

    The VAE is a one-level tiny one (a four-level random decoder's padding artefacts reach
    past a small tile's middle), its output scaled down so that a tile's own edge artefact
    is a plainly visible step of about twenty levels rather than hundreds (random weights; a
    trained VAE's are faint, and Finish's tiles 512 pixels)."""
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=(8,), down_block_types=("DownEncoderBlock2D",),
                        up_block_types=("UpDecoderBlock2D",), layers_per_block=1,
                        norm_num_groups=4, mid_block_add_attention=False).eval()
    side, tile = 256, 64
    with torch.inference_mode():
        vae.decoder.conv_out.weight.mul_(0.05)
        vae.decoder.conv_out.bias.zero_()
        latents = vae.encode(torch.full((1, 3, side, side), 0.2)).latent_dist.mean
        whole = to_uint8(vae.decode(latents).sample).astype(int)
        with finish_module.vae_tiles(vae, True, tile):
            tiled = to_uint8(vae.decode(latents).sample).astype(int)
        naive = to_uint8(torch.cat([
            torch.cat([vae.decode(latents[..., i : i + tile, j : j + tile]).sample
                       for j in range(0, side, tile)], dim=-1)
            for i in range(0, side, tile)
        ], dim=-2)).astype(int)
    assert not vae.use_tiling and tiled.shape == whole.shape == naive.shape
    stride, blend = tile - tile // 4, tile // 4  # diffusers' row limit and blend extent
    edges = sorted({*range(stride, side, stride), *range(stride + blend, side, stride)})

    def worst_step(image, at):
        before = [a - 1 for a in at]
        columns = np.abs(image[:, at] - image[:, before]).max()
        rows = np.abs(image[at] - image[before]).max()
        return int(max(columns, rows))

    flat = worst_step(whole, list(range(16, side - 16)))
    assert flat <= 2  # the whole decode is flat inside its border
    assert worst_step(tiled, edges) <= flat + 1
    assert worst_step(naive, list(range(tile, side, tile))) >= 10


def test_tiles_are_chosen_when_the_decode_would_not_fit(engine, monkeypatch):
    monkeypatch.setattr(finish_module, "free_bytes", lambda _device: 10**12)
    assert not finish_module.needs_tiles(engine, 1024)
    need = finish_module.decode_bytes(engine, 1024)
    monkeypatch.setattr(finish_module, "free_bytes", lambda _device: need)
    assert finish_module.needs_tiles(engine, 1024)
    assert finish_module.tile_px(engine, 1024) == finish_module.TILE_PX
    monkeypatch.setattr(finish_module, "free_bytes", lambda _device: 1)
    assert finish_module.tile_px(engine, 1024) == finish_module.SMALLEST_TILE_PX


def test_a_finish_tiled_from_the_start_still_finishes(engine, monkeypatch):
    monkeypatch.setattr(finish_module, "needs_tiles", lambda *_: True)
    monkeypatch.setattr(finish_module, "TILE_PX", 64)
    monkeypatch.setattr(finish_module, "free_bytes", lambda _device: None)
    assert engine.finish(_request()).image.shape == (256, 256, 3)
    assert not engine.parts.vae.use_tiling


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"scale": 0.5}, "the finish scale must be 1..4, got 0.5"),
        ({"scale": 5}, "the finish scale must be 1..4, got 5"),
        ({"steps": 0}, "the finish steps must be 1..50, got 0"),
        ({"steps": 51}, "the finish steps must be 1..50, got 51"),
        ({"strength": 1.5}, r"the finish strength must be in \(0, 1\], got 1.5"),
        ({"picture": np.zeros((64, 96, 3), np.uint8)}, "must be square, got 96x64"),
    ],
)
def test_bad_finish_input_is_one_line(kwargs, message):
    with pytest.raises(InvalidRequestError, match=message) as caught:
        _request(**kwargs)
    assert "\n" not in str(caught.value)


def test_a_finished_picture_larger_than_finish_makes_is_refused_before_any_work(engine):
    big = np.zeros((2048, 2048, 3), np.uint8)
    request = FinishRequest(picture=big, sketch=big, scale=2.5)
    with pytest.raises(InvalidRequestError, match="5120x5120; the largest Finish makes is 4096"):
        engine.finish(request)

"""Region frames on the engine (engine/region.py, core/region.py) with the tiny SDXL-shaped
model: the whole page is the full frame, outside the region and its feather the kept picture
stays pixel for pixel, and a crop is what diffusers' own pipeline renders for that crop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionXLControlNetPipeline
from PIL import Image

from desktop_app.core.errors import DeviceOutOfMemoryError, InvalidRequestError, RenderCancelled
from desktop_app.core.region import Box, compose, crop_box, feather_alpha, mask_at_size
from desktop_app.core.types import DEFAULT_FEATHER_PX, RenderRequest
from desktop_app.engine import region as engine_region

PROMPT = "a cat"


def frame(engine, sketch, **kw) -> RenderRequest:
    return RenderRequest(sketch=sketch, **{"prompt": PROMPT, "seed": 3, **kw})


def square(size: int, top: int, left: int, side: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[top : top + side, left : left + side] = True
    return mask


def kept(size: int = 512) -> np.ndarray:
    """A picture to keep, distinct from anything the model draws: a colour ramp."""
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    picture = np.stack([*np.meshgrid(ramp, ramp[::-1]), np.full((size, size), 90.0)], axis=2)
    return picture.astype(np.uint8)


def reach(mask: np.ndarray, feather: int) -> np.ndarray:
    """The pixels a region frame may change: the region and its feather."""
    return feather_alpha(mask, feather) > 0


# -- the engine --------------------------------------------------------------------------------


def test_a_region_covering_the_page_is_the_full_frame_bit_for_bit(engine, sketch):
    full = engine.render(frame(engine, sketch))
    whole = np.ones(sketch.shape[:2], bool)
    region = engine.render(frame(engine, sketch, keep=kept(), region=whole))
    np.testing.assert_array_equal(region.image, full.image)
    assert region.params.composed and not full.params.composed
    assert region.latents is None  # a composed picture exports as it is shown
    assert region.params.seed == full.params.seed and region.params.model == full.params.model


def test_colour_mode_starts_from_the_kept_picture(engine, sketch):
    """With the sketch itself as the kept picture, a whole-page colour region is the full
    colour frame (which starts from the sketch's colours); another kept picture changes it."""
    sketch = sketch.copy()
    sketch[300:400, 300:400] = (200, 40, 40)
    whole = np.ones(sketch.shape[:2], bool)
    settings = dict(mode="colour", strength=0.6)
    full = engine.render(frame(engine, sketch, **settings))
    same_start = engine.render(frame(engine, sketch, keep=sketch, region=whole, **settings))
    np.testing.assert_array_equal(same_start.image, full.image)
    other_start = engine.render(frame(engine, sketch, keep=kept(), region=whole, **settings))
    assert not np.array_equal(other_start.image, full.image)


@pytest.mark.parametrize("mode", ["scribble", "colour"])
@pytest.mark.parametrize("feather", [0, 16, 40])
def test_outside_the_region_and_its_feather_the_kept_picture_stays(engine, sketch, mode, feather):
    mask = square(512, 200, 230, 90)
    keep = kept()
    result = engine.render(frame(engine, sketch, keep=keep, region=mask, mode=mode,
                                 feather=feather))
    outside = ~reach(mask, feather)
    assert np.abs(result.image[outside].astype(int) - keep[outside]).max() == 0
    assert not np.array_equal(result.image[mask], keep[mask])  # the region was repainted
    # the feather reaches `feather` pixels out (the region's last column is 319): a pixel
    # feather - 1 out is blended, one feather out is kept
    alpha = feather_alpha(mask, feather)[245]
    assert alpha[320 + feather] == 0 and alpha[319 + feather] == (0 if feather else 1)
    assert feather == 0 or alpha[318 + feather] > 0


def test_the_crop_is_diffusers_pipeline_on_the_cropped_sketch(tiny_folder):
    """A crop of 256 x 384 at (64, 128) on a 512 page: its latents, before pasting, are what
    StableDiffusionXLControlNetPipeline renders at that shape from the page noise's slice, on
    the crop of the sketch, with SDXL's size conditioning saying where the crop lies."""
    from desktop_app.engine.loading import load_engine

    engine = load_engine(str(tiny_folder), device="cpu", dtype="float32")
    sketch = np.full((512, 512, 3), 255, np.uint8)
    sketch[100:300, 200:210] = 0
    sketch[150:160, 150:480] = 0
    mask = np.zeros((512, 512), bool)
    mask[128:256, 192:448] = True
    _, crop = engine_region.plan(mask, 512, 16, "sdxl")
    assert crop.box == Box(64, 128, 256, 384) and not crop.scaled
    captured = []
    decode = engine._decode_preview
    engine._decode_preview = lambda latents: captured.append(latents.clone()) or decode(latents)
    try:
        engine.render(frame(engine, sketch, keep=kept(), region=mask, seed=11))
    finally:
        del engine._decode_preview
    noise = engine.noise(11, 512)[..., 8:40, 16:64]
    pipe = StableDiffusionXLControlNetPipeline.from_pretrained(str(tiny_folder))
    pipe.set_progress_bar_config(disable=True)
    stock = pipe(
        prompt=PROMPT,
        image=Image.fromarray(255 - sketch[64:320, 128:512]),
        height=256,
        width=384,
        num_inference_steps=1,
        guidance_scale=0.0,
        latents=noise.clone(),
        original_size=(512, 512),
        crops_coords_top_left=(64, 128),
        target_size=(256, 384),
        output_type="latent",
    ).images
    ours = captured[0].float()
    assert ours.shape == stock.shape == (1, 4, 32, 48)
    torch.testing.assert_close(ours, stock, rtol=0, atol=1e-4 * float(stock.abs().max()))


def test_a_crop_under_the_models_minimum_is_rendered_larger(engine, sketch):
    mask = square(512, 200, 200, 12)
    page_mask, crop = engine_region.plan(mask, 512, 16, engine.info.family)
    assert (crop.box.height, crop.box.width) == (192, 192) and crop.shape == (256, 256)
    assert crop.scaled and page_mask.sum() == mask.sum()
    noise = engine_region.crop_noise(engine, 3, crop)
    assert noise.shape == (1, 4, 32, 32) and abs(float(noise.std()) - 1) < 0.15
    ids = engine_region.time_ids(engine, crop)
    assert ids.tolist() == [[683, 683, 171, 171, 256, 256]]
    keep = kept()
    a = engine.render(frame(engine, sketch, keep=keep, region=mask))
    b = engine.render(frame(engine, sketch, keep=keep, region=mask))
    np.testing.assert_array_equal(a.image, b.image)  # a seed's small crops do not flicker
    outside = ~reach(mask, 16)
    assert np.array_equal(a.image[outside], keep[outside])
    assert not np.array_equal(a.image[mask], keep[mask])


def test_a_non_square_sketch_places_its_region_as_it_places_the_sketch(engine):
    wide = np.full((300, 600, 3), 255, np.uint8)
    wide[100:200, 300:310] = 0
    mask = np.zeros((300, 600), bool)
    mask[100:200, 0:100] = True  # the left edge: the page's rows 75..125 after centring
    page = mask_at_size(mask, 256)
    rows, cols = np.nonzero(page)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (107, 149, 0, 42)
    keep = kept(256)
    result = engine.render(frame(engine, wide, size=256, keep=keep, region=mask))
    outside = ~reach(page, 16)
    assert np.array_equal(result.image[outside], keep[outside])


def test_cancel_and_out_of_memory_as_for_frames(engine, sketch, monkeypatch):
    mask = square(512, 200, 200, 100)
    with pytest.raises(RenderCancelled):
        engine.render(frame(engine, sketch, keep=kept(), region=mask), should_cancel=lambda: True)

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(engine.parts.unet, "forward", oom)
    with pytest.raises(DeviceOutOfMemoryError, match="smaller size"):
        engine.render(frame(engine, sketch, keep=kept(), region=mask))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"keep": kept()}, "needs both"),
        ({"region": np.ones((512, 512), bool)}, "needs the picture to keep"),
        ({"keep": kept(256), "region": np.ones((512, 512), bool)}, "is 256x256, and the frame"),
        ({"keep": kept(), "region": np.ones((500, 512), bool)}, "region is 512x500"),
        ({"keep": kept(), "region": np.zeros((512, 512), bool)}, "empty"),
        ({"keep": kept(), "region": np.ones((512, 512), np.uint8)}, "mask"),
        ({"keep": kept(), "region": np.ones((512, 512), bool), "feather": -1}, "feather"),
    ],
)
def test_bad_region_requests_are_refused_in_one_line(sketch, kwargs, message):
    with pytest.raises(InvalidRequestError, match=message):
        RenderRequest(sketch=sketch, **kwargs)


# -- the pixel side ----------------------------------------------------------------------------


def test_the_crop_is_the_region_with_its_margin_rounded_out_to_64_and_clamped():
    assert crop_box(square(512, 192, 192, 128), 16) == Box(128, 128, 256, 256)
    assert crop_box(square(512, 0, 500, 12), 16) == Box(0, 384, 128, 128)
    # at 1024 the margin is 128 px; a wide feather widens it
    assert crop_box(square(1024, 512, 512, 64), 16) == Box(384, 384, 320, 320)
    assert crop_box(square(512, 256, 256, 64), 100) == Box(128, 128, 320, 320)


def test_the_feather_falls_from_one_to_zero_over_its_width():
    mask = square(64, 20, 20, 10)
    alpha = feather_alpha(mask, 8)
    assert (alpha[mask] == 1).all()
    row = alpha[25, 30:40]  # rightwards from the region's edge
    np.testing.assert_allclose(row, [7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8, 0, 0, 0])
    assert np.array_equal(feather_alpha(mask, 0) > 0, mask)


def test_compose_pastes_through_the_feather_and_keeps_the_rest():
    keep = np.full((128, 128, 3), 10, np.uint8)
    pixels = np.full((64, 64, 3), 250, np.uint8)
    mask = square(128, 40, 40, 20)
    out = compose(keep, pixels, Box(32, 32, 64, 64), mask, 4)
    assert (out[mask] == 250).all()
    assert (out[~reach(mask, 4)] == 10).all()
    edge = out[50, 60:64, 0]
    assert (np.diff(edge.astype(int)) < 0).all() and 10 < edge[0] < 250


# -- compiled forwards -------------------------------------------------------------------------


def test_compiled_engines_render_the_page_with_their_graphs_and_keep_the_rest(sketch):
    """A compiled engine's region frame is its compiled page frame inside the region and the
    kept picture outside it and its feather: no graph per crop shape (on a GPU, the page's
    graphs are faster than an eager crop)."""
    from torch._dynamo.utils import counters

    from desktop_app.engine.loading import load_engine

    compiled = load_engine("tiny", device="cpu", compile_models=True, compile_backend="eager")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIVE_CANVAS_PACK_WEIGHTS", "0")
        plain = load_engine("tiny", device="cpu")
    page = compiled.render(frame(compiled, sketch)).image  # the page's graphs
    np.testing.assert_array_equal(page, plain.render(frame(plain, sketch)).image)
    graphs = counters["stats"]["unique_graphs"]
    forward = compiled.parts.unet.forward
    for mask in (square(512, 100, 100, 150), square(512, 300, 40, 60)):
        a = compiled.render(frame(compiled, sketch, keep=kept(), region=mask)).image
        np.testing.assert_array_equal(a[mask], page[mask])
        far = ~reach(mask, DEFAULT_FEATHER_PX)
        np.testing.assert_array_equal(a[far], kept()[far])
    assert counters["stats"]["unique_graphs"] == graphs  # no graph per crop shape
    assert compiled.parts.unet.forward is forward

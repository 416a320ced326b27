"""The frame path, on the tiny SDXL-shaped model loaded from a save_pretrained folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from desktop_app.core.errors import DeviceOutOfMemoryError, InvalidRequestError
from desktop_app.core.types import RenderRequest


def render(engine, sketch, **kw):
    return engine.render(RenderRequest(sketch=sketch, prompt=kw.pop("prompt", "a cat"), **kw))


def test_result_is_an_rgb_image_of_the_requested_size(engine, sketch):
    result = render(engine, sketch, size=256)
    assert result.image.shape == (256, 256, 3) and result.image.dtype == np.uint8
    assert result.latents.shape == (1, 4, 32, 32)
    assert result.timings.total_ms >= result.timings.denoise_ms > 0


def test_same_seed_and_inputs_give_identical_pixels(engine, sketch):
    a = render(engine, sketch, seed=7)
    engine.render(RenderRequest(sketch=sketch, prompt="something else", seed=3))
    b = render(engine, sketch, seed=7)
    np.testing.assert_array_equal(a.image, b.image)


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 8},
        {"control_scale": 0.4},
        {"prompt": "a dog"},
    ],
)
def test_changing_a_setting_changes_pixels(engine, sketch, change):
    base = render(engine, sketch, seed=7)
    changed = render(engine, sketch, **{"seed": 7, **change})
    assert not np.array_equal(base.image, changed.image)


def test_strength_changes_pixels_in_colour_mode(engine, sketch):
    sketch = sketch.copy()
    sketch[300:400, 300:400] = (200, 40, 40)
    low = render(engine, sketch, mode="colour", strength=0.3)
    high = render(engine, sketch, mode="colour", strength=0.9)
    scribble = render(engine, sketch)
    assert not np.array_equal(low.image, high.image)
    assert not np.array_equal(low.image, scribble.image)


def test_the_sketch_steers_the_picture(engine, sketch):
    blank = np.full_like(sketch, 255)
    assert not np.array_equal(render(engine, sketch).image, render(engine, blank).image)


def test_prompt_is_encoded_once_until_it_changes(engine, sketch):
    render(engine, sketch, prompt="a lighthouse")
    count = engine.prompts.encode_count
    for seed in range(3):
        render(engine, sketch, prompt="a lighthouse", seed=seed)
    assert engine.prompts.encode_count == count
    render(engine, sketch, prompt="a lighthouse at night")
    assert engine.prompts.encode_count == count + 1


def test_artists_taking_turns_with_their_own_prompts_encode_each_once(engine, sketch):
    """A served replica alternates artists: each prompt is kept, not only the latest."""
    prompts = [f"artist {n}'s picture" for n in range(4)]
    render(engine, sketch, prompt=prompts[0])
    count = engine.prompts.encode_count
    first = [render(engine, sketch, prompt=p).image for p in prompts]
    assert engine.prompts.encode_count == count + 3
    again = [render(engine, sketch, prompt=p).image for p in prompts * 2][:4]
    assert engine.prompts.encode_count == count + 3
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_noise_is_fixed_per_seed_and_size(engine):
    assert engine.noise(5, 512) is engine.noise(5, 512)
    assert torch.equal(engine.noise(5, 256), engine.noise(5, 256))
    assert not torch.equal(engine.noise(5, 512), engine.noise(6, 512))


@pytest.mark.parametrize("steps", [1, 2, 3, 4])
def test_full_strength_is_the_schedulers_own_trailing_schedule(engine, steps):
    from diffusers import EulerDiscreteScheduler

    reference = EulerDiscreteScheduler.from_config(engine.sampling.trailing.config)
    reference.set_timesteps(steps)
    for strength in (None, 1.0):
        sched = engine.schedule(steps, strength)
        assert [float(t) for t in sched.timesteps] == pytest.approx(
            [float(t) for t in reference.timesteps]
        )
        assert sched.sigmas == pytest.approx([float(s) for s in reference.sigmas], rel=1e-4)


@pytest.mark.parametrize("steps,strength", [(1, 0.5), (2, 0.5), (4, 0.25)])
def test_strength_starts_where_diffusers_img2img_would(engine, steps, strength):
    """diffusers' img2img at N steps and strength s runs the last s*N steps of the N-step
    trailing schedule; where s*N is whole, the engine runs exactly those."""
    from diffusers import EulerDiscreteScheduler

    total = round(steps / strength)
    reference = EulerDiscreteScheduler.from_config(engine.sampling.trailing.config)
    reference.set_timesteps(total)
    sched = engine.schedule(steps, strength)
    assert [float(t) for t in sched.timesteps] == pytest.approx(
        [float(t) for t in reference.timesteps[total - steps :]]
    )


def test_every_strength_has_its_own_noise_level(engine):
    """At one step, a grid of whole schedules would give 0.5-0.99 the same start."""
    levels = [engine.schedule(1, s).sigmas[0] for s in (0.3, 0.5, 0.6, 0.75, 0.9, 0.99, 1.0)]
    assert levels == sorted(levels) and len(set(levels)) == len(levels)
    tiny = engine.schedule(1, 0.0001)
    assert float(tiny.timesteps[0]) >= 0 and tiny.sigmas[-1] == 0


def test_more_steps_run_more_denoising(engine, sketch):
    one, two = render(engine, sketch, steps=1), render(engine, sketch, steps=2)
    assert not np.array_equal(one.image, two.image)


def test_export_decodes_stored_latents_with_the_full_vae(engine, sketch, monkeypatch):
    result = render(engine, sketch, seed=11)
    unet_calls, vae_inputs = [], []
    monkeypatch.setattr(engine.parts.unet, "forward", lambda *a, **k: unet_calls.append(1))
    original_decode = engine.parts.vae.decode

    def spy(latents, *args, **kwargs):
        vae_inputs.append(latents.clone())
        return original_decode(latents, *args, **kwargs)

    monkeypatch.setattr(engine.parts.vae, "decode", spy)
    full = engine.export_image(result)
    assert full.shape == result.image.shape and full.dtype == np.uint8
    assert unet_calls == []
    scaling = engine.parts.vae.config.scaling_factor
    # the latents reach the VAE in its own dtype (bf16 on CPUs that compute it natively)
    expected = (result.latents / scaling).to(vae_inputs[0].dtype)
    torch.testing.assert_close(vae_inputs[0], expected)
    assert not np.array_equal(full, result.image)


def test_prompt_warnings(engine, sketch):
    long = render(engine, sketch, prompt="a very detailed castle on a hill " * 10)
    assert any("longer than" in w for w in long.warnings)
    empty = render(engine, sketch, prompt="")
    assert any("empty" in w for w in empty.warnings)
    unicode = render(engine, sketch, prompt="薔薇の庭 — café façade ✨")
    assert unicode.warnings == () and unicode.image.shape == (512, 512, 3)


def test_any_sketch_size_is_fitted_to_the_generation_size(engine):
    wide = np.full((300, 900, 3), 255, np.uint8)
    wide[140:160] = 0
    assert render(engine, wide, size=256).image.shape == (256, 256, 3)


def test_out_of_memory_becomes_an_actionable_message(engine, sketch, monkeypatch):
    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(engine.parts.unet, "forward", oom)
    with pytest.raises(DeviceOutOfMemoryError, match="smaller size.*sd-turbo"):
        render(engine, sketch, size=1024)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"size": 500}, "multiple of 64"),
        ({"size": 4096}, "between"),
        ({"strength": 0.0}, r"strength must be in \(0, 1\]"),
        ({"strength": 1.5}, "strength"),
        ({"steps": 0}, "steps"),
        ({"control_scale": 2.5}, "control scale"),
        ({"mode": "paint"}, "mode"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_requests_are_refused_with_a_message(sketch, kwargs, message):
    with pytest.raises(InvalidRequestError, match=message):
        RenderRequest(sketch=sketch, **kwargs)


def test_sd21_architecture_renders(tiny_sd21_folder, sketch):
    from desktop_app.engine.loading import load_engine

    sd21 = load_engine(str(tiny_sd21_folder), device="cpu")
    assert sd21.info.family == "sd21"
    a = sd21.render(RenderRequest(sketch=sketch, prompt="a tree", seed=1))
    b = sd21.render(RenderRequest(sketch=sketch, prompt="a tree", seed=2))
    assert a.image.shape == (512, 512, 3)
    assert not np.array_equal(a.image, b.image)
    colour = sd21.render(RenderRequest(sketch=sketch, prompt="a tree", mode="colour", seed=1))
    assert not np.array_equal(a.image, colour.image)


def test_builtin_tiny_preset_says_it_is_noise():
    from desktop_app.engine.loading import load_engine

    tiny = load_engine("tiny", device="cpu")
    assert tiny.info.is_noise and "noise" in tiny.info.describe()


def test_cpu_control_shortcut_matches_the_device_path(sketch):
    from desktop_app.engine.sketch import control_from_canvas, control_from_sketch, to_device_image

    sketch = sketch.copy()
    sketch[10:60, 10:60] = (30, 90, 220)  # a coloured stroke is ink too
    fast = control_from_sketch(sketch, torch.float32)
    reference = control_from_canvas(to_device_image(sketch, torch.device("cpu"), torch.float32))
    torch.testing.assert_close(fast, reference, atol=1.01 / 255, rtol=0)
    assert fast[0, 0, 30, 30] > 0.5 and fast[0, 0, 400, 30] == 0


def test_uint8_conversion_rounds_like_the_device_path():
    from desktop_app.engine.outputs import to_uint8

    decoded = torch.linspace(-1.2, 1.2, 3 * 64 * 64).reshape(1, 3, 64, 64)
    expected = ((decoded[0] + 1) * 127.5).clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
    got = to_uint8(decoded.contiguous(memory_format=torch.channels_last))
    assert got.shape == (64, 64, 3) and got.flags.c_contiguous
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_stage_clock_reports_each_stage(engine, sketch):
    import time

    from desktop_app.engine.device import StageClock

    clock = StageClock(torch.device("cpu"))
    time.sleep(0.02)
    clock.lap()
    clock.lap()
    first, second = clock.laps_ms()
    assert first >= 19 and 0 <= second < first
    # The stages cover the frame: their total is the render call's own time, less only the
    # bookkeeping around them (measured from outside, so a stage left out would show).
    start = time.perf_counter()
    timings = render(engine, sketch).timings
    wall_ms = (time.perf_counter() - start) * 1000
    assert 0.8 * wall_ms <= timings.total_ms <= wall_ms


def test_colour_mode_starts_from_the_colour_image_and_follows_the_sketch(engine, sketch):
    colours = np.zeros_like(sketch)
    colours[:, :256] = (10, 170, 40)
    colours[:, 256:] = (220, 200, 30)
    common = dict(sketch=sketch, mode="colour", strength=0.6, seed=4, size=256)
    plain = engine.render(RenderRequest(**common)).image
    coloured = engine.render(RenderRequest(**common, colour=colours)).image
    assert not np.array_equal(plain, coloured)
    again = engine.render(RenderRequest(**common, colour=colours)).image
    assert np.array_equal(coloured, again)
    # The lines still come from the sketch: another sketch, the same colours, another picture.
    other = engine.render(RenderRequest(**{**common, "sketch": 255 - sketch}, colour=colours))
    assert not np.array_equal(other.image, coloured)
    # Scribble mode has no starting colours: the colour image changes nothing.
    scribble = dict(sketch=sketch, seed=4, size=256)
    assert np.array_equal(
        engine.render(RenderRequest(**scribble)).image,
        engine.render(RenderRequest(**scribble, colour=colours)).image,
    )


def test_a_colour_image_counts_in_what_a_colour_frame_is_made_of(sketch):
    colours = np.full_like(sketch, 100)
    a = RenderRequest(sketch=sketch, mode="colour", colour=colours)
    assert a.same_inputs(RenderRequest(sketch=sketch, mode="colour", colour=colours.copy()))
    assert not a.same_inputs(RenderRequest(sketch=sketch, mode="colour"))
    assert RenderRequest(sketch=sketch, colour=colours).same_inputs(RenderRequest(sketch=sketch))
    with pytest.raises(InvalidRequestError, match="the colour image must be an RGB"):
        RenderRequest(sketch=sketch, colour=colours[..., 0])

"""Loading from presets, folders, hub ids and single files, and the messages when it fails."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from model_factory import SHARED, save_tiny_controlnet, save_tiny_pipeline

from desktop_app.core.errors import ModelLoadError
from desktop_app.core.types import RenderRequest
from desktop_app.engine.loading import load_engine


def test_folder_without_model_index_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelLoadError, match="not a diffusers model folder"):
        load_engine(str(tmp_path), device="cpu")


@pytest.mark.parametrize(
    "name,message",
    [
        ("./missing/model", "model path does not exist"),
        ("/nowhere/model.safetensors", "model file not found"),
        ("no-such-preset", "unknown model 'no-such-preset'"),
    ],
)
def test_missing_models(name, message):
    with pytest.raises(ModelLoadError, match=message):
        load_engine(name, device="cpu")


def test_hub_id_not_cached_offline_says_how_to_download():
    with pytest.raises(ModelLoadError) as err:
        load_engine("sdxl-turbo", device="cpu")
    message = str(err.value)
    assert "stabilityai/sdxl-turbo is not downloaded" in message
    assert "live-canvas models download sdxl-turbo" in message
    assert "\n" not in message


def test_mismatched_controlnet_is_refused_before_loading_weights(tmp_path, monkeypatch):
    from diffusers import UNet2DConditionModel

    base = save_tiny_pipeline(tmp_path / "base", with_controlnet=False)
    sd21_control = save_tiny_controlnet(tmp_path / "cn21", family="sd21")
    loaded = []
    monkeypatch.setattr(UNet2DConditionModel, "from_pretrained",
                        classmethod(lambda cls, *a, **k: loaded.append(a)))
    with pytest.raises(ModelLoadError, match="is for SD-style .* models but the base .* is SDXL"):
        load_engine(str(base), device="cpu", controlnet=str(sd21_control))
    assert loaded == []


def test_base_folder_takes_a_controlnet_override(tmp_path, sketch):
    base = save_tiny_pipeline(tmp_path / "base", with_controlnet=False)
    control = save_tiny_controlnet(tmp_path / "cn")
    engine = load_engine(str(base), device="cpu", controlnet=str(control))
    assert engine.render(RenderRequest(sketch=sketch, prompt="x")).image.shape == (512, 512, 3)


def test_base_folder_without_controlnet_falls_back_to_the_preset_one(tmp_path):
    base = save_tiny_pipeline(tmp_path / "base", with_controlnet=False)
    with pytest.raises(ModelLoadError, match="xinsir/controlnet-scribble-sdxl-1.0 is not downl"):
        load_engine(str(base), device="cpu")


def test_without_a_preview_decoder_live_frames_use_the_full_vae(tmp_path, sketch):
    folder = save_tiny_pipeline(tmp_path / "no-tae", with_tae=False)
    engine = load_engine(str(folder), device="cpu")
    assert engine.parts.tae is None
    assert any("preview decoder unavailable" in w for w in engine.info.warnings)
    result = engine.render(RenderRequest(sketch=sketch, prompt="x"))
    np.testing.assert_array_equal(result.image, engine.export_image(result))


@pytest.mark.skipif(not (SHARED / "weights/taesd").exists(), reason="../shared absent")
def test_raw_taesd_file_as_preview_decoder(tmp_path, sketch):
    folder = save_tiny_pipeline(tmp_path / "no-tae", with_tae=False)
    decoder = SHARED / "weights/taesd/taesdxl_decoder.safetensors"
    engine = load_engine(str(folder), device="cpu", preview_decoder=str(decoder))
    assert engine.info.preview_decoder == str(decoder)
    assert engine.render(RenderRequest(sketch=sketch, prompt="x")).image.shape == (512, 512, 3)


def test_truncated_single_file_checkpoint_names_the_file(tmp_path):
    good = tmp_path / "model.safetensors"
    import torch
    from safetensors.torch import save_file

    save_file({"conditioner.embedders.1.model.w": torch.zeros(1000)}, str(good))
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match=r"cut.safetensors is not a readable safetensors"):
        load_engine(str(truncated), device="cpu")


def test_single_file_of_unknown_layout(tmp_path):
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "lora.safetensors"
    save_file({"lora_unet_down.weight": torch.zeros(4)}, str(path))
    with pytest.raises(ModelLoadError, match="not an SDXL, SD 2.x or SD 1.x checkpoint"):
        load_engine(str(path), device="cpu")


def test_single_file_needs_its_base_config_offline(tmp_path):
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "my-sdxl.safetensors"
    save_file({"conditioner.embedders.1.model.w": torch.zeros(4)}, str(path))
    with pytest.raises(ModelLoadError, match="my-sdxl.safetensors.*not downloaded"):
        load_engine(str(path), device="cpu")


def test_unknown_device_is_refused():
    with pytest.raises(Exception, match="unknown device 'gpu0'"):
        load_engine("tiny", device="gpu0")


def test_copy_of_a_model_folder_loads_the_same_pixels(tiny_folder, tmp_path, sketch, engine):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_folder, copy)
    again = load_engine(str(copy), device="cpu")
    request = RenderRequest(sketch=sketch, prompt="x", seed=3)
    np.testing.assert_array_equal(engine.render(request).image, again.render(request).image)


def test_controlnet_override_from_a_single_file(tmp_path, sketch):
    base = save_tiny_pipeline(tmp_path / "base", with_controlnet=False)
    folder = save_tiny_controlnet(tmp_path / "cn")
    weights = next(folder.glob("*.safetensors"))
    engine = load_engine(str(base), device="cpu", controlnet=str(weights))
    assert engine.render(RenderRequest(sketch=sketch, prompt="x")).image.shape == (512, 512, 3)


def test_lone_controlnet_file_offline_says_where_its_config_comes_from(tmp_path):
    base = save_tiny_pipeline(tmp_path / "base", with_controlnet=False)
    folder = save_tiny_controlnet(tmp_path / "cn")
    lone = tmp_path / "scribble.safetensors"
    next(folder.glob("*.safetensors")).rename(lone)
    with pytest.raises(ModelLoadError, match="xinsir/controlnet-scribble-sdxl-1.0 is not downl"):
        load_engine(str(base), device="cpu", controlnet=str(lone))


def test_truncated_controlnet_file_names_the_file(tmp_path):
    base = save_tiny_pipeline(tmp_path / "base", with_controlnet=False)
    folder = save_tiny_controlnet(tmp_path / "cn")
    weights = next(folder.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match=f"{weights.name} is not a readable safetensors"):
        load_engine(str(base), device="cpu", controlnet=str(weights))


@pytest.mark.parametrize(
    "key,family",
    [
        ("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", "sd15"),
        ("cond_stage_model.model.token_embedding.weight", "sd21"),
        ("conditioner.embedders.1.model.w", "sdxl"),
    ],
)
def test_single_file_family_from_its_keys(tmp_path, key, family):
    import torch
    from safetensors.torch import save_file

    from desktop_app.engine.single_file import checkpoint_family

    path = tmp_path / "model.safetensors"
    save_file({key: torch.zeros(4)}, str(path))
    assert checkpoint_family(path) == family


def test_sd15_single_file_takes_sd15s_configs(tmp_path):
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "dreamshaper.safetensors"
    save_file({"cond_stage_model.transformer.text_model.w": torch.zeros(4)}, str(path))
    with pytest.raises(ModelLoadError, match="stable-diffusion-v1-5/stable-diffusion-v1-5"):
        load_engine(str(path), device="cpu")


def test_sd15_folder_without_controlnet_takes_the_sd15_scribble_one(tmp_path):
    base = save_tiny_pipeline(tmp_path / "base", family="sd15", with_controlnet=False)
    with pytest.raises(ModelLoadError, match="lllyasviel/sd-controlnet-scribble is not downl"):
        load_engine(str(base), device="cpu")


def test_controlnet_of_the_same_family_but_another_shape_is_refused(tmp_path, monkeypatch):
    """SDXS's UNet is a smaller SD 1.5 one: a ControlNet for another shape would not fit."""
    import json

    from diffusers import UNet2DConditionModel

    base = save_tiny_pipeline(tmp_path / "base", family="sd15", with_controlnet=False)
    control = save_tiny_controlnet(tmp_path / "cn", family="sd15")
    config = json.loads((control / "config.json").read_text())
    config["block_out_channels"] = [64, 64]
    (control / "config.json").write_text(json.dumps(config))
    loaded = []
    monkeypatch.setattr(UNet2DConditionModel, "from_pretrained",
                        classmethod(lambda cls, *a, **k: loaded.append(a)))
    with pytest.raises(ModelLoadError, match=r"does not fit the UNet .*block_out_channels"):
        load_engine(str(base), device="cpu", controlnet=str(control))
    assert loaded == []


def test_sd15_folder_with_a_scheduler_the_engine_does_not_follow_says_so(tmp_path, sketch):
    from diffusers import PNDMScheduler

    base = save_tiny_pipeline(tmp_path / "base", family="sd15", scheduler=PNDMScheduler())
    engine = load_engine(str(base), device="cpu")
    assert any("PNDMScheduler" in w and "trailing Euler" in w for w in engine.info.warnings)
    result = engine.render(RenderRequest(sketch=sketch, prompt="x", size=256))
    assert result.params.sampler == "Euler" and result.image.shape == (256, 256, 3)


def test_a_scheduler_config_that_gives_no_schedule_falls_back_with_a_warning(tmp_path, sketch):
    import json

    base = save_tiny_pipeline(tmp_path / "base", family="sd15")
    config_file = base / "scheduler" / "scheduler_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "timestep_spacing": "sideways"}))
    engine = load_engine(str(base), device="cpu")
    assert any("DEISMultistepScheduler config cannot be used" in w for w in engine.info.warnings)
    assert engine.render(RenderRequest(sketch=sketch, size=256)).params.sampler == "Euler"


def test_a_noise_schedule_diffusers_cannot_build_is_a_load_error(tmp_path):
    import json

    base = save_tiny_pipeline(tmp_path / "base", family="sd15")
    config_file = base / "scheduler" / "scheduler_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "beta_schedule": "wobbly"}))
    with pytest.raises(ModelLoadError, match="scheduler config cannot be used"):
        load_engine(str(base), device="cpu")

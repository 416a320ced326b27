"""The random full-size models have the real architectures: ``random:sd15`` against SD 1.5's
own configs in ../shared (built on the meta device, so nothing is allocated)."""

from __future__ import annotations

import json

import pytest
from accelerate import init_empty_weights
from diffusers import ControlNetModel, UNet2DConditionModel
from model_factory import SHARED
from transformers import CLIPTextConfig, CLIPTextModel

from desktop_app.engine import builders

CONFIGS = SHARED / "configs"
pytestmark = pytest.mark.skipif(not CONFIGS.exists(), reason="../shared/configs is absent")


def shapes(module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in module.named_parameters()}


def config(*parts: str) -> dict:
    return json.loads(CONFIGS.joinpath(*parts).read_text())


def test_random_sd15_unet_is_sd15s():
    with init_empty_weights():
        ours = UNet2DConditionModel(**builders._SD15_UNET)
        real = UNet2DConditionModel.from_config(config("sd15-base", "unet", "config.json"))
    assert shapes(ours) == shapes(real)


def test_random_sd15_controlnet_is_the_sd15_scribble_controlnets():
    arch = {
        k: v for k, v in builders._SD15_UNET.items() if k not in ("up_block_types", "sample_size")
    }
    with init_empty_weights():
        ours = ControlNetModel(**arch, conditioning_embedding_out_channels=(16, 32, 96, 256))
        real = ControlNetModel.from_config(config("controlnet-sd15-scribble", "config.json"))
    assert shapes(ours) == shapes(real)


def test_random_sd15_text_encoder_is_clip_vit_l():
    vocab = 49408
    with init_empty_weights():
        ours = CLIPTextModel(builders._clip_config(builders._CLIP_L, vocab))
        real = CLIPTextModel(CLIPTextConfig(**config("sd15-base", "text_encoder", "config.json")))
    assert shapes(ours) == shapes(real)


def test_real_controlnet_configs_pair_with_their_real_bases_only():
    from desktop_app.core.errors import ModelLoadError
    from desktop_app.engine.components import check_pairing

    sdxl = config("sdxl-turbo", "unet", "config.json")
    sd15 = config("sd15-base", "unet", "config.json")
    sdxl_control = config("controlnet-sdxl", "config.json")
    sd15_control = config("controlnet-sd15-scribble", "config.json")
    check_pairing("sdxl-turbo", sdxl, "an SDXL ControlNet", sdxl_control)
    check_pairing("sd15", sd15, "the SD 1.5 scribble ControlNet", sd15_control)
    with pytest.raises(ModelLoadError, match="is for SD 1.x models but the base .* is SDXL"):
        check_pairing("sdxl-turbo", sdxl, "the SD 1.5 scribble ControlNet", sd15_control)
    narrower = {**sd15, "block_out_channels": [256, 512, 1024, 1024]}  # a pruned SD 1.5 UNet
    with pytest.raises(ModelLoadError, match="does not fit the UNet of sdxs"):
        check_pairing("sdxs", narrower, "the SD 1.5 scribble ControlNet", sd15_control)

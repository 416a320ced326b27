"""Single-file checkpoints (``model.safetensors``) as kept by other tools' model folders.

The file's keys say which architecture it is; diffusers converts it, taking the component
configs from the matching preset's base repository (from the Hugging Face cache when offline).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from desktop_app.engine.errors import ModelLoadError
from desktop_app.engine.hub_errors import describe_hub_error
from desktop_app.engine.parts import TURBO_SCHEDULER, ModelParts
from desktop_app.engine.presets import preset_for_family


def safetensors_keys(path: Path) -> list[str]:
    """The tensor names, from the header alone; a truncated file fails here, by name."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return list(f.keys())
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelLoadError(
            f"{path} is not a readable safetensors file (truncated or corrupt?): {err}"
        ) from None


def checkpoint_family(path: Path) -> str:
    """ "sdxl" or "sd21" from the key layout; reading the header also catches truncated files."""
    if path.suffix != ".safetensors":
        raise ModelLoadError(
            f"{path}: only .safetensors checkpoints are loaded (pickles can run "
            "code); convert it, or use a diffusers folder"
        )
    keys = safetensors_keys(path)
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return "sdxl"
    if any(k.startswith("cond_stage_model.") for k in keys):
        return "sd21"
    raise ModelLoadError(f"{path} is not an SDXL or SD 2.x checkpoint (unknown key layout)")


def load_single_file(
    path: Path,
    dtype: torch.dtype,
    controlnet: str | None,
    preview_decoder: str | None,
    say: Callable[[str], None],
    finish: Callable,
) -> ModelParts:
    from diffusers import ControlNetModel, StableDiffusionPipeline, StableDiffusionXLPipeline

    family = checkpoint_family(path)
    preset = preset_for_family(family)
    pipe_cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    say(f"loading {path.name}")
    try:
        pipe = pipe_cls.from_single_file(str(path), config=preset.base, torch_dtype=dtype)
    except Exception as err:  # noqa: BLE001 - translated into a user message
        raise ModelLoadError(
            f"cannot load {path}: {describe_hub_error(preset.base, err)}"
        ) from None
    control_source = controlnet or preset.controlnet
    say(f"loading {control_source}")
    try:
        control = ControlNetModel.from_pretrained(control_source, torch_dtype=dtype)
    except Exception as err:  # noqa: BLE001
        raise ModelLoadError(describe_hub_error(control_source, err)) from None
    if control.config.cross_attention_dim != pipe.unet.config.cross_attention_dim:
        raise ModelLoadError(f"the ControlNet {control_source} does not fit {path.name}")
    encoders = tuple(e for e in (pipe.text_encoder, getattr(pipe, "text_encoder_2", None)) if e)
    tokenizers = tuple(t for t in (pipe.tokenizer, getattr(pipe, "tokenizer_2", None)) if t)
    parts = ModelParts(
        name=path.name,
        family=family,
        unet=pipe.unet,
        controlnet=control,
        text_encoders=encoders,
        tokenizers=tokenizers,
        vae=pipe.vae,
        tae=None,
        scheduler_config=dict(TURBO_SCHEDULER),
    )
    return finish(parts, preview_decoder, dtype, say)


def controlnet_file_config_source(path: Path, family: str) -> str:
    """Where a lone ControlNet file's architecture is described: a config.json beside it (a
    file picked out of a diffusers folder), else the family preset's ControlNet repository."""
    if (path.parent / "config.json").exists():
        return str(path.parent)
    return preset_for_family(family).controlnet


def load_controlnet_file(
    path: Path, config_source: str, config: dict, dtype: torch.dtype, say: Callable[[str], None]
):
    """A ControlNet from one .safetensors file, in diffusers' key layout (as most
    ControlNets are published) or in the original ``control_model.*`` one."""
    from diffusers import ControlNetModel

    say(f"loading {path.name}")
    keys = safetensors_keys(path)
    if any(k.startswith("control_model.") for k in keys):
        try:
            return ControlNetModel.from_single_file(
                str(path), config=config_source, torch_dtype=dtype
            )
        except Exception as err:  # noqa: BLE001 - translated into a user message
            raise ModelLoadError(
                f"cannot load {path}: {describe_hub_error(config_source, err)}"
            ) from None
    from accelerate import init_empty_weights
    from safetensors.torch import load_file

    with init_empty_weights():  # the file's tensors become the weights: no random init first
        model = ControlNetModel.from_config(config)
    try:
        model.load_state_dict(load_file(str(path)), strict=True, assign=True)
    except RuntimeError as err:
        raise ModelLoadError(
            f"{path} does not match the ControlNet architecture of {config_source}: "
            f"{str(err).splitlines()[0]}"
        ) from None
    return model.to(dtype)

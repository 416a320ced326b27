"""Single-file checkpoints (``model.safetensors``) as kept by other tools' model folders.

The file's keys say which architecture it is; diffusers converts it, taking the component
configs from the matching preset's base repository (from the Hugging Face cache when offline).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from desktop_app.core.errors import ModelLoadError
from desktop_app.engine.components import (
    finish_parts,
    plan_controlnet,
    read_config,
    safetensors_keys,
)
from desktop_app.engine.parts import TURBO_SCHEDULER, ModelParts
from desktop_app.models.hub_errors import describe_hub_error
from desktop_app.models.presets import family_defaults


def checkpoint_family(path: Path) -> str:
    """ "sdxl", "sd21" or "sd15" from the key layout; reading the header also catches
    truncated files. SD 1.x keeps its text encoder as a transformers CLIP model, SD 2.x as an
    OpenCLIP one (``cond_stage_model.model.``)."""
    if path.suffix != ".safetensors":
        raise ModelLoadError(
            f"{path}: only .safetensors checkpoints are loaded (pickles can run "
            "code); convert it, or use a diffusers folder"
        )
    keys = safetensors_keys(path)
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return "sdxl"
    if any(k.startswith("cond_stage_model.transformer.") for k in keys):
        return "sd15"
    if any(k.startswith("cond_stage_model.") for k in keys):
        return "sd21"
    raise ModelLoadError(f"{path} is not an SDXL, SD 2.x or SD 1.x checkpoint (unknown key layout)")


def load_single_file(
    path: Path,
    dtype: torch.dtype,
    controlnet: str | None,
    preview_decoder: str | None,
    say: Callable[[str], None],
) -> ModelParts:
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    family = checkpoint_family(path)
    config_repo = family_defaults(family).config_repo
    # The base's architecture is the family's: check the ControlNet against it before the
    # checkpoint's gigabytes are read.
    try:
        unet_config = read_config(config_repo, "unet") or {}
    except ModelLoadError as err:
        raise ModelLoadError(f"cannot load {path}: {err}") from None
    load_controlnet = plan_controlnet(str(path), controlnet, unet_config, dtype, say)
    pipe_cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    say(f"loading {path.name}")
    try:
        pipe = pipe_cls.from_single_file(str(path), config=config_repo, torch_dtype=dtype)
    except Exception as err:  # noqa: BLE001 - translated into a user message
        raise ModelLoadError(
            f"cannot load {path}: {describe_hub_error(config_repo, err)}"
        ) from None
    encoders = tuple(e for e in (pipe.text_encoder, getattr(pipe, "text_encoder_2", None)) if e)
    tokenizers = tuple(t for t in (pipe.tokenizer, getattr(pipe, "tokenizer_2", None)) if t)
    parts = ModelParts(
        name=path.name,
        family=family,
        unet=pipe.unet,
        controlnet=load_controlnet(),
        text_encoders=encoders,
        tokenizers=tokenizers,
        vae=pipe.vae,
        tae=None,
        # A lone checkpoint carries no scheduler: the one-step turbo sampler, as for the others.
        scheduler_config=dict(TURBO_SCHEDULER),
    )
    return finish_parts(parts, preview_decoder, dtype, say)

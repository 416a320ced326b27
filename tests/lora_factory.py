"""Tiny LoRA files for the tiny models, made the way people's files are made: PEFT adapters
on the tiny architecture (random, non-zero up matrices, as a trained LoRA has), saved by
diffusers' own ``save_lora_weights`` (diffusers/PEFT keys), and the same adapters converted by
diffusers' ``convert_state_dict_to_kohya`` (kohya/A1111 keys with ``alpha``). Both files
hold the same matrices, so both must fuse to the same weights."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
from diffusers.utils import convert_state_dict_to_kohya
from peft import LoraConfig, inject_adapter_in_model
from peft.utils import get_peft_model_state_dict
from safetensors.torch import save_file

from desktop_app.engine.builders import build_tiny

_UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
_TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
_RANK = 4


def lora_matrices(parts, seed: int = 0, scale: float = 0.5, text: bool = True) -> dict:
    """``{"unet": {...}, "text_encoder": {...}, ...}``: PEFT state dicts of random adapters
    for a model of ``parts``'s family (a fresh tiny one: ``parts`` is never changed)."""
    torch.manual_seed(seed)
    fresh = build_tiny(family=parts.family, dtype=torch.float32)
    models = {"unet": (fresh.unet, _UNET_TARGETS)}
    if text:
        for name, encoder in zip(("text_encoder", "text_encoder_2"), fresh.text_encoders,
                                 strict=False):
            models[name] = (encoder, _TEXT_TARGETS)
    layers = {}
    for name, (model, targets) in models.items():
        config = LoraConfig(r=_RANK, lora_alpha=_RANK, target_modules=targets)
        # PEFT's own injection: transformers' add_adapter wants a newer PEFT than diffusers.
        inject_adapter_in_model(config, model)
        state = get_peft_model_state_dict(model)
        # Entries of a few tenths, as in LoRAs people train: the picture visibly changes.
        layers[name] = {key: torch.randn_like(value) * scale for key, value in state.items()}
    return {"family": parts.family, "layers": layers}


def save_peft_lora(matrices: dict, path: Path) -> Path:
    sdxl = matrices["family"] == "sdxl"
    pipeline = StableDiffusionXLPipeline if sdxl else StableDiffusionPipeline
    with tempfile.TemporaryDirectory() as folder:
        pipeline.save_lora_weights(
            folder,
            **{f"{name}_lora_layers": state for name, state in matrices["layers"].items()},
            weight_name="lora.safetensors",
        )
        path.write_bytes((Path(folder) / "lora.safetensors").read_bytes())
    return path


def save_kohya_lora(matrices: dict, path: Path) -> Path:
    prefixed = {
        f"{name}.{key}": value
        for name, state in matrices["layers"].items()
        for key, value in state.items()
    }
    kohya = convert_state_dict_to_kohya(prefixed)
    save_file({key: value.contiguous() for key, value in kohya.items()}, str(path))
    return path

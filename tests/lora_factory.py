"""Tiny LoRA files for the tiny models, in both formats people download: diffusers/PEFT keys
(``unet.<module>.lora_A.weight``) and kohya/A1111 keys (``lora_unet_<module>.lora_down.weight``
with an ``alpha``). The same seed gives the same matrices in both, so both must fuse to the
same weights."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

_UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
_TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


def lora_matrices(parts, rank: int = 4, seed: int = 0, scale: float = 0.5,
                  text: bool = True) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{"<prefix>.<module path>": (down, up)}`` for the attention layers of the UNet (and
    the text encoders), random and non-zero (a trained LoRA's up matrix is not zero)."""
    gen = torch.Generator().manual_seed(seed)
    prefixes = [("unet", parts.unet, _UNET_TARGETS)]
    if text:
        names = ("text_encoder", "text_encoder_2")
        encoders = zip(names, parts.text_encoders, strict=False)
        prefixes += [(n, m, _TEXT_TARGETS) for n, m in encoders]
    out = {}
    for prefix, model, targets in prefixes:
        for path, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and path.endswith(targets):
                down = torch.randn(rank, module.in_features, generator=gen) * scale
                up = torch.randn(module.out_features, rank, generator=gen) * scale
                out[f"{prefix}.{path}"] = (down, up)
    return out


def save_peft_lora(matrices: dict, path: Path) -> Path:
    state = {}
    for key, (down, up) in matrices.items():
        state[f"{key}.lora_A.weight"] = down.contiguous()
        state[f"{key}.lora_B.weight"] = up.contiguous()
    save_file(state, str(path))
    return path


def save_kohya_lora(matrices: dict, path: Path, family: str = "sdxl") -> Path:
    text_names = {"text_encoder": "lora_te1" if family == "sdxl" else "lora_te",
                  "text_encoder_2": "lora_te2"}
    state = {}
    for key, (down, up) in matrices.items():
        prefix, module = key.split(".", 1)
        head = "lora_unet" if prefix == "unet" else text_names[prefix]
        name = f"{head}_{module.replace('.', '_')}"
        state[f"{name}.lora_down.weight"] = down.contiguous()
        state[f"{name}.lora_up.weight"] = up.contiguous()
        state[f"{name}.alpha"] = torch.tensor(float(down.shape[0]))  # alpha = rank: scale 1
    save_file(state, str(path))
    return path

"""Tiny random models written to disk the way diffusers writes real ones, so tests load them
back through the app's own loading code (the diffusers test-suite pattern)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from diffusers import DEISMultistepScheduler, EulerDiscreteScheduler

from desktop_app.engine.builders import build_tiny
from desktop_app.engine.parts import TURBO_SCHEDULER

# Read-only material beside the repository (real TAESD weights, model configs); may be absent.
SHARED = Path(__file__).resolve().parents[2] / "shared"


def save_tiny_pipeline(folder: Path, family: str = "sdxl", with_controlnet: bool = True,
                       with_tae: bool = True, scheduler=None, tiny_vae: bool = False) -> Path:
    """A ControlNet pipeline folder as ``save_pretrained`` writes it (plus ``tae/``).

    ``scheduler``: the folder's own (default: the family's, as ``build_tiny`` gives it).
    ``tiny_vae``: the pipeline's ``vae`` is the tiny autoencoder, as SDXS publishes it, with
    the full one beside it in ``vae_large/``.
    """
    from diffusers import StableDiffusionControlNetPipeline, StableDiffusionXLControlNetPipeline

    parts = build_tiny(family=family)
    if scheduler is None:
        scheduler = EulerDiscreteScheduler(**TURBO_SCHEDULER)
        if family == "sd15":
            scheduler = DEISMultistepScheduler.from_config(parts.scheduler_config)
    vae = parts.tae if tiny_vae else parts.vae
    common = dict(vae=vae, unet=parts.unet, controlnet=parts.controlnet, scheduler=scheduler,
                  text_encoder=parts.text_encoders[0], tokenizer=parts.tokenizers[0])
    if family == "sdxl":
        pipe = StableDiffusionXLControlNetPipeline(
            **common, text_encoder_2=parts.text_encoders[1], tokenizer_2=parts.tokenizers[1])
    else:
        pipe = StableDiffusionControlNetPipeline(
            **common, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)
    if tiny_vae:
        parts.vae.save_pretrained(folder / "vae_large")
    if with_tae and not tiny_vae:
        parts.tae.save_pretrained(folder / "tae")
    if not with_controlnet:
        _remove_controlnet(folder)
    return folder


def _remove_controlnet(folder: Path) -> None:
    shutil.rmtree(folder / "controlnet")
    index = json.loads((folder / "model_index.json").read_text())
    index.pop("controlnet", None)
    (folder / "model_index.json").write_text(json.dumps(index))


def save_tiny_controlnet(folder: Path, family: str = "sdxl") -> Path:
    build_tiny(family=family).controlnet.save_pretrained(folder)
    return folder

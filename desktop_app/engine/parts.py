"""The loaded pieces of a model, whatever they were loaded from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Few-step distilled models (SDXL-Turbo, SD-Turbo) are trained on the last timesteps, which
# "trailing" spacing reaches exactly; Euler is the sampler they are published with.
TURBO_SCHEDULER = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "timestep_spacing": "trailing",
}


@dataclass
class ModelParts:
    """Everything the renderer needs. Mutable only while loading; the engine owns it after."""

    name: str
    family: str  # "sdxl", "sd21" or "sd15"
    unet: Any
    controlnet: Any
    text_encoders: tuple  # one for SD 1.x/2.x, two for SDXL (the second has a projection)
    tokenizers: tuple
    vae: Any  # the export decoder: an AutoencoderKL, or the model's own AutoencoderTiny
    tae: Any | None  # tiny autoencoder for live frames; None falls back to the full VAE
    scheduler_config: dict  # with "_class_name": the model's own scheduler (sampling.py)
    preview_decoder: str = "full VAE"
    is_noise: bool = False
    licence: str = ""  # the preset's licence text; empty where the app cannot know it
    warnings: tuple[str, ...] = ()

    def modules(self) -> list:
        mods = [self.unet, self.controlnet, *self.text_encoders, self.vae]
        if self.tae is not None and self.tae is not self.vae:
            mods.append(self.tae)
        return mods

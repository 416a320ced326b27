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
    family: str  # "sdxl" or "sd21"
    unet: Any
    controlnet: Any
    text_encoders: tuple  # one for SD 2.x, two for SDXL (the second has a projection)
    tokenizers: tuple
    vae: Any  # full-quality AutoencoderKL, used for export
    tae: Any | None  # tiny autoencoder for live frames; None falls back to the full VAE
    scheduler_config: dict
    preview_decoder: str = "full VAE"
    is_noise: bool = False
    warnings: tuple[str, ...] = ()

    def modules(self) -> list:
        mods = [self.unet, self.controlnet, *self.text_encoders, self.vae]
        if self.tae is not None:
            mods.append(self.tae)
        return mods

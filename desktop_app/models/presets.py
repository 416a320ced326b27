"""The model presets: one table, so the CLI, the app and the downloader agree on names."""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.core.errors import ModelLoadError
from desktop_app.core.settings_table import SETTINGS

NON_COMMERCIAL = (
    "Stability AI Non-Commercial Research Community License: personal and research use only; "
    "commercial use needs a licence from Stability AI"
)


@dataclass(frozen=True)
class Preset:
    """A named combination of parts. Hub ids are verified to exist on the Hugging Face Hub."""

    name: str
    family: str  # "sdxl" or "sd21"
    description: str
    base: str | None = None  # hub id of a diffusers-format base model
    controlnet: str | None = None  # hub id of a scribble ControlNet for that base
    preview_decoder: str | None = None  # hub id of the tiny autoencoder (live frames)
    full_vae: str | None = None  # hub id of a VAE replacing the base's (None: the base's own)
    licence: str = ""
    builtin: str | None = None  # "tiny" / "random": built in code, nothing to download
    is_noise: bool = False

    @property
    def hub_parts(self) -> tuple[tuple[str, str], ...]:
        """(role, hub id) for every part that has to come from the Hub."""
        parts = (
            ("base", self.base),
            ("controlnet", self.controlnet),
            ("preview decoder", self.preview_decoder),
            ("full-quality VAE", self.full_vae),
        )
        return tuple((role, repo) for role, repo in parts if repo)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="sdxl-turbo",
            family="sdxl",
            description="SDXL-Turbo with an SDXL scribble ControlNet (best quality, the default)",
            base="stabilityai/sdxl-turbo",
            controlnet="xinsir/controlnet-scribble-sdxl-1.0",
            preview_decoder="madebyollin/taesdxl",
            # The stock SDXL VAE overflows in fp16 (black/NaN images); this one does not.
            full_vae="madebyollin/sdxl-vae-fp16-fix",
            licence=f"SDXL-Turbo: {NON_COMMERCIAL}; ControlNet: Apache-2.0; TAESDXL: MIT; VAE: MIT",
        ),
        Preset(
            name="sd-turbo",
            family="sd21",
            description="SD-Turbo with an SD 2.1 scribble ControlNet (fastest)",
            base="stabilityai/sd-turbo",
            controlnet="thibaud/controlnet-sd21-scribble-diffusers",
            preview_decoder="madebyollin/taesd",
            licence=f"SD-Turbo: {NON_COMMERCIAL}; ControlNet: OpenRAIL++; TAESD: MIT",
        ),
        Preset(
            name="tiny",
            family="sdxl",
            description="a tiny SDXL-shaped model with random weights, built in code: "
            "output is noise (for tests and demos without a download)",
            builtin="tiny",
            is_noise=True,
            licence="built in code, no weights",
        ),
        Preset(
            name="random:sdxl",
            family="sdxl",
            description="full-size SDXL + ControlNet with random weights: output is noise "
            "(for benchmarking hardware without a download)",
            builtin="random",
            is_noise=True,
            licence="built in code, no weights",
        ),
        Preset(
            name="random:sd21",
            family="sd21",
            description="full-size SD 2.1 + ControlNet with random weights: output is noise "
            "(for benchmarking hardware without a download)",
            builtin="random",
            is_noise=True,
            licence="built in code, no weights",
        ),
    )
}

DEFAULT_PRESET = SETTINGS["preset"].default


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ModelLoadError(
            f"unknown preset {name!r}; choose one of {', '.join(PRESETS)} "
            "(live-canvas models list shows them)"
        ) from None


def preset_for_family(family: str) -> Preset:
    """The downloadable preset whose ControlNet and decoders fit a base of this family."""
    for preset in PRESETS.values():
        if preset.family == family and preset.builtin is None:
            return preset
    raise ModelLoadError(f"no preset for model family {family!r}")

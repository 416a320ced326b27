"""The model presets: one table, so the CLI, the app and the downloader agree on names."""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.core.errors import ModelLoadError
from desktop_app.core.settings_table import SETTINGS

OPENRAIL_PLUS_PLUS = (
    "CreativeML OpenRAIL++-M: commercial use allowed within the licence's use restrictions"
)
NON_COMMERCIAL = (
    "Stability AI Non-Commercial Research Community License: personal and research use only; "
    "commercial use needs a licence from Stability AI"
)


@dataclass(frozen=True)
class Preset:
    """A named combination of parts. Hub ids are verified to exist on the Hugging Face Hub."""

    name: str
    family: str  # "sdxl", "sd21" or "sd15"
    description: str
    base: str | None = None  # hub id of a diffusers-format base model
    controlnet: str | None = None  # hub id of a scribble ControlNet for that base
    # The parts below are a hub id, or "org/name/subfolder" for a folder inside a repository.
    preview_decoder: str | None = None  # the tiny autoencoder (live frames)
    full_vae: str | None = None  # a VAE replacing the base's for exports (None: the base's own)
    licence: str = ""
    builtin: str | None = None  # "tiny" / "random": built in code, nothing to download
    is_noise: bool = False
    # Finish's second pass, where this model wants its own (None: the settings table's, made
    # for the turbo models: 4 steps at strength 0.4).
    finish_steps: int | None = None
    finish_strength: float | None = None

    @property
    def hub_parts(self) -> tuple[tuple[str, str], ...]:
        """(role, hub id or "org/name/subfolder") for every part that comes from the Hub."""
        parts = (
            ("base", self.base),
            ("controlnet", self.controlnet),
            ("preview decoder", self.preview_decoder),
            ("full-quality VAE", self.full_vae),
        )
        return tuple((role, repo) for role, repo in parts if repo)


def split_hub_spec(spec: str) -> tuple[str, str | None]:
    """ "org/name" or "org/name/subfolder" → (repo id, subfolder or None)."""
    pieces = spec.split("/")
    return "/".join(pieces[:2]), "/".join(pieces[2:]) or None


@dataclass(frozen=True)
class FamilyDefaults:
    """What a base of a family gets when nothing else is said: a scribble ControlNet, a tiny
    preview decoder, and the repository whose configs describe a single-file checkpoint."""

    controlnet: str
    preview_decoder: str
    config_repo: str


SDXS_REPO = "IDKiro/sdxs-512-dreamshaper"

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
            description="SD-Turbo with an SD 2.1 scribble ControlNet (fast on a GPU)",
            base="stabilityai/sd-turbo",
            controlnet="thibaud/controlnet-sd21-scribble-diffusers",
            preview_decoder="madebyollin/taesd",
            licence=f"SD-Turbo: {NON_COMMERCIAL}; ControlNet: OpenRAIL++; TAESD: MIT",
        ),
        Preset(
            name="sdxs",
            family="sd15",
            description="SDXS-512 DreamShaper with its sketch ControlNet: one step through a "
            "small UNet, the fastest preset on a computer without a GPU, usable commercially",
            base=SDXS_REPO,
            controlnet="IDKiro/sdxs-512-dreamshaper-sketch",
            # The model's own decoders: its "vae" is a tiny autoencoder (the live frames), and
            # its "vae_large" a full AutoencoderKL, published with it for full-quality exports.
            preview_decoder=f"{SDXS_REPO}/vae",
            full_vae=f"{SDXS_REPO}/vae_large",
            licence=f"SDXS: {OPENRAIL_PLUS_PLUS}; sketch ControlNet: OpenRAIL++",
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
        Preset(
            name="random:sd15",
            family="sd15",
            description="full-size SD 1.5 + ControlNet with random weights: output is noise "
            "(an upper bound for SDXS's speed; for benchmarking without a download)",
            builtin="random",
            is_noise=True,
            licence="built in code, no weights",
        ),
    )
}


def _defaults_of(preset: Preset) -> FamilyDefaults:
    controlnet, decoder, base = preset.controlnet, preset.preview_decoder, preset.base
    # Only a built-in download preset, which names all three, is taken as a family's default.
    assert controlnet and decoder and base, f"{preset.name} does not name all its parts"
    return FamilyDefaults(controlnet, decoder, base)


_FAMILY_DEFAULTS = {
    "sdxl": _defaults_of(PRESETS["sdxl-turbo"]),
    "sd21": _defaults_of(PRESETS["sd-turbo"]),
    # SD 1.x and 2.x share a latent space, so one tiny decoder serves both. The ControlNet is
    # the standard SD 1.5 scribble one: SDXS's sketch ControlNet was trained for SDXS's own UNet.
    "sd15": FamilyDefaults(
        "lllyasviel/sd-controlnet-scribble",
        "madebyollin/taesd",
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
    ),
}

DEFAULT_PRESET = SETTINGS["preset"].default
FAST_ON_CPU = "sdxs"  # what a first start on a machine without a GPU offers beside the default


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ModelLoadError(
            f"unknown preset {name!r}; choose one of {', '.join(PRESETS)} "
            "(live-canvas models list shows them)"
        ) from None


def finish_defaults(model: str) -> tuple[int, float]:
    """Finish's (steps, strength) for ``model``: its preset's own, else the settings table's
    (any model that is not a preset: a folder, a hub id, a server's)."""
    preset = PRESETS.get(model)
    steps = preset.finish_steps if preset and preset.finish_steps else None
    strength = preset.finish_strength if preset and preset.finish_strength else None
    return (
        steps or SETTINGS["finish_steps"].default,
        strength or SETTINGS["finish_strength"].default,
    )


def family_defaults(family: str) -> FamilyDefaults:
    try:
        return _FAMILY_DEFAULTS[family]
    except KeyError:
        raise ModelLoadError(f"no default parts for model family {family!r}") from None

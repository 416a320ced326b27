"""From a name the user typed to a running ``Engine``.

A model is one of: a preset name, a Hugging Face hub id (standard cache; ``HF_HOME`` and
``HF_HUB_OFFLINE`` apply), a local diffusers folder, or a single ``.safetensors`` checkpoint.
Every failure becomes a ``ModelLoadError`` naming the file or repository and what to do.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import AutoencoderKL, AutoencoderTiny, ControlNetModel, UNet2DConditionModel
from diffusers.utils import logging as diffusers_logging
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer
from transformers.utils import logging as transformers_logging

from desktop_app.engine.builders import build_random, build_tiny
from desktop_app.engine.device import pick_placement
from desktop_app.engine.errors import ModelLoadError
from desktop_app.engine.hub_errors import describe_hub_error
from desktop_app.engine.parts import TURBO_SCHEDULER, ModelParts
from desktop_app.engine.presets import DEFAULT_PRESET, PRESETS, Preset, preset_for_family
from desktop_app.engine.renderer import Engine
from desktop_app.engine.single_file import (
    controlnet_file_config_source,
    load_controlnet_file,
    load_single_file,
)
from desktop_app.engine.taesd import load_tiny_autoencoder

Progress = Callable[[str], None]
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")

diffusers_logging.set_verbosity_error()
transformers_logging.set_verbosity_error()
logging.getLogger("huggingface_hub").setLevel(logging.ERROR)


def load_engine(
    model: str = DEFAULT_PRESET,
    device: str | None = None,
    dtype: str | None = None,
    controlnet: str | None = None,
    preview_decoder: str | None = None,
    progress: Progress | None = None,
    compile_models: bool = False,
    compile_backend: str = "inductor",
) -> Engine:
    """``compile_models``: torch.compile the frame path and compile it here, before the first
    frame (``compile_backend`` other than inductor is for tests)."""
    placement = pick_placement(device, dtype)
    parts = load_parts(model, placement.dtype, controlnet, preview_decoder, progress)
    if progress:
        progress(f"moving {parts.name} to {placement.device}")
    engine = Engine(parts, placement, compile_models, compile_backend)
    if compile_models:
        engine.warm_up(progress=progress)
    return engine


def load_parts(
    model: str,
    dtype: torch.dtype,
    controlnet: str | None = None,
    preview_decoder: str | None = None,
    progress: Progress | None = None,
) -> ModelParts:
    say = progress or (lambda _msg: None)
    if model in PRESETS:
        preset = PRESETS[model]
        say(f"building {preset.name}" if preset.builtin else f"loading {preset.name}")
        if preset.builtin == "tiny":
            parts = build_tiny(dtype)
        elif preset.builtin == "random":
            parts = build_random(preset.family, dtype)
        else:
            return _load_diffusers(
                preset.base,
                preset.name,
                dtype,
                controlnet or preset.controlnet,
                preview_decoder or preset.preview_decoder,
                preset.full_vae,
                say,
            )
        if controlnet or preview_decoder:
            raise ModelLoadError(f"the built-in {model} model takes no --controlnet or decoder")
        return parts
    path = Path(model).expanduser()
    if path.is_file() or path.suffix in (".safetensors", ".ckpt"):
        if not path.exists():
            raise ModelLoadError(f"model file not found: {path}")
        return load_single_file(path, dtype, controlnet, preview_decoder, say, _finish_parts)
    if path.is_dir():
        return _load_diffusers(str(path), path.name, dtype, controlnet, preview_decoder, None, say)
    if _HUB_ID.match(model) and not model.startswith((".", "/", "~")):
        return _load_diffusers(model, model, dtype, controlnet, preview_decoder, None, say)
    if "/" in model or "\\" in model or model.startswith((".", "~")):
        raise ModelLoadError(f"model path does not exist: {model}")
    raise ModelLoadError(
        f"unknown model {model!r}: use a preset ({', '.join(PRESETS)}), a Hugging Face hub id "
        "(org/name), a diffusers model folder or a .safetensors file"
    )


def _is_local(source: str) -> bool:
    return Path(source).expanduser().exists()


def read_config(source: str, subfolder: str | None, name: str = "config.json") -> dict | None:
    """A component's config, read before any weights: None when the component is absent."""
    if _is_local(source):
        file = Path(source).expanduser() / (subfolder or "") / name
        if not file.exists():
            return None
    else:
        from huggingface_hub import hf_hub_download

        try:
            file = Path(hf_hub_download(source, f"{subfolder}/{name}" if subfolder else name))
        except Exception as err:  # noqa: BLE001 - translated into a user message
            missing = type(err).__name__ in ("EntryNotFoundError", "RemoteEntryNotFoundError")
            if missing:
                return None
            raise ModelLoadError(describe_hub_error(source, err)) from None
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"{file} is not a readable JSON config: {err}") from None


def family_of_unet(config: dict) -> str:
    return "sdxl" if config.get("addition_embed_type") == "text_time" else "sd21"


def describe_architecture(config: dict) -> str:
    if family_of_unet(config) == "sdxl":
        return "SDXL"
    dim = config.get("cross_attention_dim")
    return {1024: "SD 2.x", 768: "SD 1.x"}.get(dim, f"SD-style (text width {dim})")


def check_pairing(base: str, unet_config: dict, controlnet: str, control_config: dict) -> None:
    """Refuse a ControlNet made for another base before loading gigabytes of weights."""
    base_arch, control_arch = (
        describe_architecture(unet_config),
        describe_architecture(control_config),
    )
    same_width = unet_config.get("cross_attention_dim") == control_config.get("cross_attention_dim")
    if base_arch != control_arch or not same_width:
        raise ModelLoadError(
            f"the ControlNet {controlnet} is for {control_arch} models but the base {base} is "
            f"{base_arch}: choose a matching ControlNet (--controlnet)"
        )


def _from_pretrained(cls, source: str, subfolder: str | None, dtype: torch.dtype, say: Progress):
    say(f"loading {source}{'/' + subfolder if subfolder else ''}")
    kwargs = {"subfolder": subfolder} if subfolder else {}
    if cls not in (CLIPTokenizer,):
        kwargs["torch_dtype"] = dtype
    try:
        if dtype == torch.float16 and not _is_local(source) and cls is not CLIPTokenizer:
            try:  # half-size download where the repo publishes an fp16 variant
                return cls.from_pretrained(source, variant="fp16", **kwargs)
            except (OSError, ValueError):
                pass
        return cls.from_pretrained(source, **kwargs)
    except ModelLoadError:
        raise
    except Exception as err:  # noqa: BLE001 - translated into a user message
        if _is_local(source):
            where = Path(source) / (subfolder or "")
            raise ModelLoadError(f"cannot load {where}: {str(err).splitlines()[0]}") from None
        raise ModelLoadError(describe_hub_error(source, err)) from None


def _load_diffusers(
    source: str,
    name: str,
    dtype: torch.dtype,
    controlnet: str | None,
    preview_decoder: str | None,
    full_vae: str | None,
    say: Progress,
) -> ModelParts:
    if _is_local(source) and not (Path(source).expanduser() / "model_index.json").exists():
        raise ModelLoadError(
            f"{source} is not a diffusers model folder (no model_index.json); "
            "give a folder written by save_pretrained or a .safetensors file"
        )
    unet_config = read_config(source, "unet")
    if unet_config is None:
        raise ModelLoadError(f"{source} has no unet/config.json: is it a Stable Diffusion model?")
    family = family_of_unet(unet_config)
    load_controlnet = _plan_controlnet(source, controlnet, unet_config, dtype, say)
    scheduler_config = read_config(source, "scheduler", "scheduler_config.json") or {}
    encoders, tokenizers = [], []
    for suffix in ("", "_2") if family == "sdxl" else ("",):
        cls = CLIPTextModelWithProjection if suffix else CLIPTextModel
        tokenizers.append(_from_pretrained(CLIPTokenizer, source, f"tokenizer{suffix}", dtype, say))
        encoders.append(_from_pretrained(cls, source, f"text_encoder{suffix}", dtype, say))
    parts = ModelParts(
        name=name,
        family=family,
        unet=_from_pretrained(UNet2DConditionModel, source, "unet", dtype, say),
        controlnet=load_controlnet(),
        text_encoders=tuple(encoders),
        tokenizers=tuple(tokenizers),
        vae=_from_pretrained(AutoencoderKL, full_vae, None, dtype, say)
        if full_vae
        else _from_pretrained(AutoencoderKL, source, "vae", dtype, say),
        tae=None,
        scheduler_config={
            **TURBO_SCHEDULER,
            **{
                k: v
                for k, v in scheduler_config.items()
                if k in ("prediction_type", "beta_schedule")
            },
        },
    )
    local_tae = Path(source).expanduser() / "tae" if _is_local(source) else None
    if preview_decoder is None and local_tae is not None and local_tae.exists():
        preview_decoder = str(local_tae)
    return _finish_parts(parts, preview_decoder, dtype, say)


def _plan_controlnet(
    base: str, override: str | None, unet_config: dict, dtype: torch.dtype, say: Progress
) -> Callable[[], ControlNetModel]:
    """Find the ControlNet and check that it fits the base, reading configs only: a mismatch
    is refused before any weights load. Returns the call that loads its weights."""
    family = family_of_unet(unet_config)
    if override and Path(override).expanduser().is_file():
        file = Path(override).expanduser()
        config_source = controlnet_file_config_source(file, family)
        config = read_config(config_source, None) or _missing(config_source)
        check_pairing(base, unet_config, str(file), config)
        return lambda: load_controlnet_file(file, config_source, config, dtype, say)
    source, subfolder = _controlnet_source(base, override, family)
    check_pairing(base, unet_config, source, read_config(source, subfolder) or _missing(source))
    return lambda: _from_pretrained(ControlNetModel, source, subfolder, dtype, say)


def _missing(source: str):
    raise ModelLoadError(f"{source} has no config.json: is it a diffusers ControlNet?")


def _controlnet_source(base: str, override: str | None, family: str) -> tuple[str, str | None]:
    """The ControlNet to use: an override, the base folder's own, or the family's preset."""
    if override:
        if not Path(override).expanduser().exists() and (
            "\\" in override or override.startswith((".", "/", "~")) or not _HUB_ID.match(override)
        ):
            raise ModelLoadError(f"ControlNet not found: {override}")
        return override, None
    if _is_local(base) and (Path(base).expanduser() / "controlnet" / "config.json").exists():
        return base, "controlnet"
    return preset_for_family(family).controlnet, None


def _finish_parts(
    parts: ModelParts, preview_decoder: str | None, dtype: torch.dtype, say: Progress
) -> ModelParts:
    """Attach the tiny preview decoder; without one, live frames use the full VAE (slower)."""
    if preview_decoder is None:
        preview_decoder = _default_preview_decoder(parts.family)
    try:
        if _is_local(preview_decoder):
            parts.tae = load_tiny_autoencoder(preview_decoder, dtype)
        else:
            parts.tae = _from_pretrained(AutoencoderTiny, preview_decoder, None, dtype, say)
        parts.preview_decoder = preview_decoder
    except ModelLoadError as err:
        parts.warnings = (
            *parts.warnings,
            f"preview decoder unavailable ({err}); live frames use the full VAE, which is slower",
        )
    return parts


def _default_preview_decoder(family: str) -> str:
    preset: Preset = preset_for_family(family)
    return preset.preview_decoder or ""

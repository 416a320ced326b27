"""From a name the user typed to a running ``Engine``.

A model is one of: a preset name, a Hugging Face hub id (standard cache; ``HF_HOME`` and
``HF_HUB_OFFLINE`` apply), a local diffusers folder, or a single ``.safetensors`` checkpoint.
Every failure becomes a ``ModelLoadError`` naming the file or repository and what to do.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.utils import logging as diffusers_logging
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer
from transformers.utils import logging as transformers_logging

from desktop_app.core.errors import InvalidRequestError, ModelLoadError
from desktop_app.core.settings_table import SETTINGS
from desktop_app.engine.builders import build_random, build_tiny
from desktop_app.engine.components import (
    HUB_ID,
    Progress,
    family_of_unet,
    finish_parts,
    from_hub_spec,
    from_pretrained,
    is_local,
    load_tiny,
    plan_controlnet,
    read_config,
)
from desktop_app.engine.device import pick_placement
from desktop_app.engine.openvino.target import is_openvino_device, resolve_target
from desktop_app.engine.parts import TURBO_SCHEDULER, ModelParts
from desktop_app.engine.renderer import Engine
from desktop_app.engine.single_file import load_single_file
from desktop_app.models.presets import DEFAULT_PRESET, PRESETS

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
    backend: str = "pytorch",
    precision: str | None = None,
) -> Engine:
    """``compile_models``: torch.compile the frame path and compile it here, before the first
    frame (``compile_backend`` other than inductor is for tests). ``backend`` "openvino" (or
    a ``device`` "openvino:NAME") runs the forwards in OpenVINO at ``precision``
    (``engine/openvino``)."""
    if backend == "openvino" or is_openvino_device(device):
        return _load_openvino(model, device, precision, controlnet, preview_decoder, progress)
    if precision is not None:
        raise InvalidRequestError("--precision goes with --backend openvino")
    placement = pick_placement(device, dtype)
    parts = load_parts(model, placement.dtype, controlnet, preview_decoder, progress)
    if progress:
        progress(f"moving {parts.name} to {placement.device}")
    engine = Engine(parts, placement, compile_models, compile_backend, progress)
    if compile_models:
        engine.warm_up(progress=progress)
    return engine


def _load_openvino(model, device, precision, controlnet, preview_decoder, progress) -> Engine:
    from desktop_app.engine.openvino.engine import load_openvino_engine

    resolve_target(device, precision)  # a bad device or precision: one line, before loading
    parts = load_parts(model, torch.float32, controlnet, preview_decoder, progress)
    # With someone to tell (the window), the default frame size is converted now, with
    # progress; otherwise the first frame converts its own size.
    sizes = (int(SETTINGS["size"].default),) if progress else ()
    return load_openvino_engine(parts, device, precision, progress, sizes=sizes)


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
        if preset.builtin is None:
            # A preset is either built in code or names the base it downloads.
            assert preset.base is not None, f"preset {preset.name} names no base model"
            parts = _load_diffusers(
                preset.base,
                preset.name,
                dtype,
                controlnet or preset.controlnet,
                preview_decoder or preset.preview_decoder,
                preset.full_vae,
                say,
            )
        elif controlnet or preview_decoder:
            raise ModelLoadError(f"the built-in {model} model takes no --controlnet or decoder")
        elif preset.builtin == "tiny":
            parts = build_tiny(dtype)
        else:
            parts = build_random(preset.family, dtype, say)
        parts.licence = preset.licence
        return parts
    path = Path(model).expanduser()
    if path.is_file() or path.suffix in (".safetensors", ".ckpt"):
        if not path.exists():
            raise ModelLoadError(f"model file not found: {path}")
        return load_single_file(path, dtype, controlnet, preview_decoder, say)
    if path.is_dir():
        return _load_diffusers(str(path), path.name, dtype, controlnet, preview_decoder, None, say)
    if HUB_ID.match(model) and not model.startswith((".", "/", "~")):
        return _load_diffusers(model, model, dtype, controlnet, preview_decoder, None, say)
    if "/" in model or "\\" in model or model.startswith((".", "~")):
        raise ModelLoadError(f"model path does not exist: {model}")
    raise ModelLoadError(
        f"unknown model {model!r}: use a preset ({', '.join(PRESETS)}), a Hugging Face hub id "
        "(org/name), a diffusers model folder or a .safetensors file"
    )


def _load_diffusers(
    source: str,
    name: str,
    dtype: torch.dtype,
    controlnet: str | None,
    preview_decoder: str | None,
    full_vae: str | None,
    say: Progress,
) -> ModelParts:
    if is_local(source) and not (Path(source).expanduser() / "model_index.json").exists():
        raise ModelLoadError(
            f"{source} is not a diffusers model folder (no model_index.json); "
            "give a folder written by save_pretrained or a .safetensors file"
        )
    unet_config = read_config(source, "unet")
    if unet_config is None:
        raise ModelLoadError(f"{source} has no unet/config.json: is it a Stable Diffusion model?")
    family = family_of_unet(unet_config)
    load_controlnet = plan_controlnet(source, controlnet, unet_config, dtype, say)
    scheduler_config = read_config(source, "scheduler", "scheduler_config.json") or {}
    encoders, tokenizers = [], []
    for suffix in ("", "_2") if family == "sdxl" else ("",):
        cls = CLIPTextModelWithProjection if suffix else CLIPTextModel
        tokenizers.append(from_pretrained(CLIPTokenizer, source, f"tokenizer{suffix}", dtype, say))
        encoders.append(from_pretrained(cls, source, f"text_encoder{suffix}", dtype, say))
    vae, own_tiny = _load_vae(source, full_vae, dtype, say)
    if own_tiny is not None and preview_decoder == f"{source}/vae":
        preview_decoder = None  # the preset names the model's own tiny decoder: loaded above
    parts = ModelParts(
        name=name,
        family=family,
        unet=from_pretrained(UNet2DConditionModel, source, "unet", dtype, say),
        controlnet=load_controlnet(),
        text_encoders=tuple(encoders),
        tokenizers=tuple(tokenizers),
        vae=vae,
        tae=own_tiny,
        scheduler_config=_scheduler_for(family, scheduler_config),
        preview_decoder=f"{name}'s own tiny autoencoder" if own_tiny is not None else "full VAE",
    )
    local_tae = Path(source).expanduser() / "tae" if is_local(source) else None
    if preview_decoder is None and local_tae is not None and local_tae.exists():
        preview_decoder = str(local_tae)
    return finish_parts(parts, preview_decoder, dtype, say)


def _scheduler_for(family: str, own: dict) -> dict:
    """The turbo families run the trailing Euler they are distilled for, with the model's
    noise schedule; the SD 1.5 family (SDXS) runs its own scheduler (``sampling.py``)."""
    if family == "sd15" and own:
        return own
    kept = {k: v for k, v in own.items() if k in ("prediction_type", "beta_schedule")}
    return {**TURBO_SCHEDULER, **kept}


def _load_vae(source: str, full_vae: str | None, dtype: torch.dtype, say: Progress):
    """(export decoder, the model's own tiny decoder or None). The folder's config says which
    class its VAE is: SDXS ships a tiny autoencoder as its ``vae``, which then decodes the
    live frames, and the exports too unless a full VAE is named or published beside it."""
    vae_config = read_config(source, "vae") or {}
    own_tiny = None
    if vae_config.get("_class_name") == "AutoencoderTiny":
        own_tiny = load_tiny(source, "vae", dtype, say)
    if full_vae:
        return from_hub_spec(AutoencoderKL, full_vae, dtype, say), own_tiny
    if own_tiny is None:
        return from_pretrained(AutoencoderKL, source, "vae", dtype, say), None
    # SDXS publishes its full VAE beside the tiny one, as "vae_large".
    large = read_config(source, "vae_large") or {}
    if large.get("_class_name") == "AutoencoderKL":
        return from_pretrained(AutoencoderKL, source, "vae_large", dtype, say), own_tiny
    return own_tiny, own_tiny

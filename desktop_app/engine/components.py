"""The pieces of loading shared by folders, hub ids and single files: reading configs before
weights, checking a ControlNet fits its base, loading one component, and attaching the
preview decoder."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import AutoencoderTiny, ControlNetModel
from safetensors import safe_open
from transformers import CLIPTokenizer

from desktop_app.core.errors import ModelLoadError
from desktop_app.engine.parts import ModelParts
from desktop_app.engine.taesd import (
    UNREADABLE,
    load_tiny_autoencoder,
    unreadable,
    without_untrained_encoder,
)
from desktop_app.models.hub_errors import describe_hub_error
from desktop_app.models.presets import family_defaults, split_hub_spec

Progress = Callable[[str], None]
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def is_local(source: str) -> bool:
    return Path(source).expanduser().exists()


def read_config(source: str, subfolder: str | None, name: str = "config.json") -> dict | None:
    """A component's config, read before any weights: None when the component is absent."""
    if is_local(source):
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
    """SDXL conditions on time ids; SD 1.x cross-attends to CLIP ViT-L's 768 wide states."""
    if config.get("addition_embed_type") == "text_time":
        return "sdxl"
    return "sd15" if config.get("cross_attention_dim") == 768 else "sd21"


_BY_TEXT_WIDTH: dict[int | None, str] = {1024: "SD 2.x", 768: "SD 1.x"}


def describe_architecture(config: dict) -> str:
    if family_of_unet(config) == "sdxl":
        return "SDXL"
    dim = config.get("cross_attention_dim")
    return _BY_TEXT_WIDTH.get(dim, f"SD-style (text width {dim})")


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
    # Same family, other shape (a pruned UNet such as SDXS's): its residuals would not fit.
    for key in ("block_out_channels", "down_block_types", "layers_per_block"):
        ours, theirs = unet_config.get(key), control_config.get(key)
        if ours is not None and theirs is not None and _listed(ours) != _listed(theirs):
            raise ModelLoadError(
                f"the ControlNet {controlnet} does not fit the UNet of {base} ({key} "
                f"{_listed(theirs)} against {_listed(ours)}): choose a ControlNet made for "
                "this model (--controlnet)"
            )


def _listed(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def from_pretrained(
    cls, source: str, subfolder: str | None, dtype: torch.dtype, say: Progress, **extra
):
    say(f"loading {source}{'/' + subfolder if subfolder else ''}")
    kwargs = {"subfolder": subfolder, **extra} if subfolder else dict(extra)
    if cls not in (CLIPTokenizer,):
        kwargs["torch_dtype"] = dtype
    try:
        if dtype == torch.float16 and not is_local(source) and cls is not CLIPTokenizer:
            try:  # half-size download where the repo publishes an fp16 variant
                return cls.from_pretrained(source, variant="fp16", **kwargs)
            except (OSError, ValueError):
                pass
        return cls.from_pretrained(source, **kwargs)
    except ModelLoadError:
        raise
    except Exception as err:  # noqa: BLE001 - translated into a user message
        if is_local(source):
            where = Path(source) / (subfolder or "")
            raise ModelLoadError(f"cannot load {where}: {str(err).splitlines()[0]}") from None
        raise ModelLoadError(describe_hub_error(source, err)) from None


def plan_controlnet(
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
    return lambda: from_pretrained(ControlNetModel, source, subfolder, dtype, say)


def _missing(source: str):
    raise ModelLoadError(f"{source} has no config.json: is it a diffusers ControlNet?")


def _controlnet_source(base: str, override: str | None, family: str) -> tuple[str, str | None]:
    """The ControlNet to use: an override, the base folder's own, or the family's preset."""
    if override:
        if not Path(override).expanduser().exists() and (
            "\\" in override or override.startswith((".", "/", "~")) or not HUB_ID.match(override)
        ):
            raise ModelLoadError(f"ControlNet not found: {override}")
        return override, None
    if is_local(base) and (Path(base).expanduser() / "controlnet" / "config.json").exists():
        return base, "controlnet"
    return family_defaults(family).controlnet, None


def from_hub_spec(cls, spec: str, dtype: torch.dtype, say: Progress):
    """A component from "org/name" or from a subfolder, "org/name/subfolder"."""
    repo, subfolder = split_hub_spec(spec)
    if cls is AutoencoderTiny:
        return load_tiny(repo, subfolder, dtype, say)
    return from_pretrained(cls, repo, subfolder, dtype, say)


def load_tiny(source: str, subfolder: str | None, dtype: torch.dtype, say: Progress):
    """A diffusers AutoencoderTiny; without its encoder when the file holds only the decoder."""
    model, info = from_pretrained(
        AutoencoderTiny, source, subfolder, dtype, say, output_loading_info=True
    )
    return without_untrained_encoder(model, info["missing_keys"])


def finish_parts(
    parts: ModelParts, preview_decoder: str | None, dtype: torch.dtype, say: Progress
) -> ModelParts:
    """Attach the tiny preview decoder; without one, live frames use the full VAE (slower).
    A model whose own decoder is tiny (SDXS) keeps it unless another is asked for."""
    if preview_decoder is None and parts.tae is not None:
        return parts
    if preview_decoder is None:
        preview_decoder = family_defaults(parts.family).preview_decoder
    try:
        if is_local(preview_decoder):
            parts.tae = load_tiny_autoencoder(preview_decoder, dtype)
        else:
            parts.tae = from_hub_spec(AutoencoderTiny, preview_decoder, dtype, say)
        parts.preview_decoder = preview_decoder
    except ModelLoadError as err:
        parts.warnings = (
            *parts.warnings,
            f"preview decoder unavailable ({err}); live frames use the full VAE, which is slower",
        )
    return parts


def safetensors_keys(path: Path) -> list[str]:
    """The tensor names, from the header alone; a truncated file fails here, by name."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return list(f.keys())
    except UNREADABLE as err:
        raise unreadable(path, err) from None


def controlnet_file_config_source(path: Path, family: str) -> str:
    """Where a lone ControlNet file's architecture is described: a config.json beside it (a
    file picked out of a diffusers folder), else the family preset's ControlNet repository."""
    if (path.parent / "config.json").exists():
        return str(path.parent)
    return family_defaults(family).controlnet


def load_controlnet_file(
    path: Path, config_source: str, config: dict, dtype: torch.dtype, say: Callable[[str], None]
):
    """A ControlNet from one .safetensors file, in diffusers' key layout (as most
    ControlNets are published) or in the original ``control_model.*`` one."""
    from diffusers import ControlNetModel

    say(f"loading {path.name}")
    keys = safetensors_keys(path)
    if any(k.startswith("control_model.") for k in keys):
        try:
            return ControlNetModel.from_single_file(
                str(path), config=config_source, torch_dtype=dtype
            )
        except Exception as err:  # noqa: BLE001 - translated into a user message
            raise ModelLoadError(
                f"cannot load {path}: {describe_hub_error(config_source, err)}"
            ) from None
    from accelerate import init_empty_weights
    from safetensors.torch import load_file

    with init_empty_weights():  # the file's tensors become the weights: no random init first
        model = ControlNetModel.from_config(config)
    try:
        model.load_state_dict(load_file(str(path)), strict=True, assign=True)
    except RuntimeError as err:
        raise ModelLoadError(
            f"{path} does not match the ControlNet architecture of {config_source}: "
            f"{str(err).splitlines()[0]}"
        ) from None
    return model.to(dtype)

"""The tiny autoencoder (TAESD / TAESDXL) from a diffusers folder or from the raw files
(``taesd_encoder.safetensors`` / ``taesd_decoder.safetensors``) other tools keep.

Raw layout → diffusers ``AutoencoderTiny``: encoder key ``K...`` becomes ``encoder.layers.K...``;
decoder key ``I...`` becomes ``decoder.layers.(I-1)...`` because the raw decoder starts with a
weightless clamp that diffusers applies inside ``DecoderTiny.forward``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderTiny
from safetensors import SafetensorError
from safetensors.torch import load_file

from desktop_app.core.errors import ModelLoadError

UNREADABLE = (SafetensorError, OSError, ValueError)


def unreadable(path: Path, err: BaseException) -> ModelLoadError:
    """The one message for a safetensors file that cannot be read, wherever it is read."""
    return ModelLoadError(
        f"{path} is not a readable safetensors file (truncated or corrupt?): {err}"
    )


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except UNREADABLE as err:
        raise unreadable(path, err) from None


def raw_to_diffusers_keys(encoder: dict | None, decoder: dict | None) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for key, value in (encoder or {}).items():
        state[f"encoder.layers.{key}"] = value
    for key, value in (decoder or {}).items():
        index, _, rest = key.partition(".")
        if not index.isdigit():
            raise ModelLoadError(f"unexpected key {key!r}: not the raw TAESD decoder layout")
        state[f"decoder.layers.{int(index) - 1}.{rest}"] = value
    return state


def find_raw_pair(path: Path) -> tuple[Path | None, Path | None]:
    """``path`` is half of a raw pair or a folder holding one; returns (encoder, decoder)."""
    if path.is_dir():
        encoders = sorted(path.glob("*_encoder.safetensors"))
        decoders = sorted(path.glob("*_decoder.safetensors"))
        if not decoders:
            return None, None
        decoder = decoders[0]
        encoder = decoder.with_name(decoder.name.replace("_decoder", "_encoder"))
        return (encoder if encoder in encoders else None), decoder
    name = path.name
    if name.endswith("_decoder.safetensors"):
        partner = path.with_name(name.replace("_decoder.", "_encoder."))
        return (partner if partner.exists() else None), path
    if name.endswith("_encoder.safetensors"):
        partner = path.with_name(name.replace("_encoder.", "_decoder."))
        return path, (partner if partner.exists() else None)
    return None, None


def load_tiny_autoencoder(path: str | Path, dtype: torch.dtype = torch.float32) -> AutoencoderTiny:
    """From a diffusers folder (has config.json) or raw TAESD files; raises ModelLoadError."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"preview decoder not found: {path}")
    if path.is_dir() and (path / "config.json").exists():
        try:
            model, info = AutoencoderTiny.from_pretrained(
                str(path), torch_dtype=dtype, output_loading_info=True
            )
            return without_untrained_encoder(model, info["missing_keys"]).eval()
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"cannot load the tiny autoencoder in {path}: {err}") from None
    encoder_file, decoder_file = find_raw_pair(path)
    if decoder_file is None:
        raise ModelLoadError(
            f"{path} holds no tiny autoencoder: expected a diffusers folder or "
            "taesd*_decoder.safetensors (and its _encoder)"
        )
    state = raw_to_diffusers_keys(
        _read_safetensors(encoder_file) if encoder_file else None, _read_safetensors(decoder_file)
    )
    model = AutoencoderTiny()
    wanted = set(model.state_dict())
    if encoder_file is None:
        wanted = {k for k in wanted if not k.startswith("encoder.")}
    if set(state) != wanted:
        raise ModelLoadError(f"{decoder_file} does not have the TAESD layout (unexpected keys)")
    try:
        model.load_state_dict(state, strict=encoder_file is not None)
    except RuntimeError as err:  # same names, other shapes: e.g. a 16-channel TAESD3 decoder
        raise ModelLoadError(
            f"{decoder_file} does not fit the SD/SDXL tiny autoencoder: "
            f"{str(err).splitlines()[-1].strip()}"
        ) from None
    if encoder_file is None:
        model.encoder = None  # colour mode encodes with the full VAE instead
    return model.to(dtype).eval()


def without_untrained_encoder(model: AutoencoderTiny, missing_keys) -> AutoencoderTiny:
    """A file holding the decoder only leaves the encoder at its random initialisation (diffusers
    loads it anyway): drop it, so that colour mode encodes with a trained VAE or says why not."""
    if any(key.startswith("encoder.") for key in missing_keys):
        model.encoder = None
    return model

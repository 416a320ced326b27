"""LoRA styles fused into the model's weights, so that a frame costs exactly what it costs
without them.

diffusers' own ``load_lora_weights`` reads the file (kohya/A1111 or diffusers/PEFT keys) and
wraps the layers it names in PEFT layers; ``fuse_lora`` adds each style's weighted delta into
those layers' weights; ``unload_lora_weights`` then puts the original layer objects back, so
the frame path runs the very modules it ran before, with changed numbers.

Changing the set or a weight goes back to the base weights first. Unfusing would subtract the
delta again, which in bf16 or fp16 does not give the same numbers back; instead the first
fusion that touches a layer keeps a copy of its base weight (on the CPU) and every change
starts by copying those back, bit for bit. A file that cannot be read, was made for another
base model or matches nothing is refused before the weights change: the model stays as it
was, with the styles it had.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline
from peft.tuners.tuners_utils import BaseTunerLayer
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers.utils import logging as transformers_logging

from desktop_app.core.errors import ModelLoadError
from desktop_app.core.types import lora_name
from desktop_app.engine.parts import ModelParts
from desktop_app.models.styles import resolve_style, short_hash

Loras = tuple[tuple[str, float], ...]  # (file or name, weight), as the settings hold them
Used = tuple[tuple[str, float, str], ...]  # (name, weight, A1111 short hash), for exports
_LORA_KEY_PARTS = (".lora_A.", ".lora.down.", ".lora_down.", ".lora_linear_layer.down.")

logging.getLogger("peft").setLevel(logging.ERROR)
# Loading a LoRA into a text encoder draws transformers' "Loading weights" bar on stderr.
transformers_logging.disable_progress_bar()


class LoraFusion:
    """The styles fused into one loaded model (``applied``), and the base weights of the
    layers they changed."""

    def __init__(self, parts: ModelParts, styles_folder: Path | None = None):
        self.parts = parts
        self.styles_folder = styles_folder
        self.applied: Loras = ()
        self.used: Used = ()
        self._base: dict[torch.nn.Module, torch.Tensor] = {}

    def apply(self, loras: Loras) -> bool:
        """Fuse exactly ``loras`` (replacing what was fused); False when they already are.
        ModelLoadError, with the model unchanged, for a file that does not fit."""
        if loras == self.applied:
            return False
        files = [(resolve_style(source, self.styles_folder), weight) for source, weight in loras]
        tensors = [_read(path) for path, _ in files]  # every file readable before any change
        used = tuple((lora_name(str(path)), w, short_hash(path)) for path, w in files)
        with warnings.catch_warnings():
            # PEFT warns about the adapters this class adds and removes on purpose, and the
            # pipeline around the modules about a scheduler it never runs.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            return self._fuse(loras, files, tensors, used)

    def _fuse(self, loras: Loras, files, tensors, used: Used) -> bool:
        host = self._host()
        names = [f"style_{i}" for i in range(len(files))]
        try:
            for name, (path, _), state in zip(names, files, tensors, strict=True):
                self._load(host, name, path, state)
        except BaseException:
            host.unload_lora_weights()  # the wrappers go; the weights were not touched yet
            raise
        self._restore_base()
        if names:
            self._keep_base()
            host.set_adapters(names, [weight for _, weight in files])
            host.fuse_lora(components=self._components(host), adapter_names=names)
            host.unload_lora_weights()
        else:
            self._base.clear()  # plain base weights again: nothing left to restore
        self.applied, self.used = loras, used
        return True

    def _host(self) -> StableDiffusionPipeline | StableDiffusionXLPipeline:
        """A pipeline around the loaded modules (nothing copied), for diffusers' LoRA API."""
        p = self.parts
        common = dict(
            vae=p.vae, unet=p.unet, scheduler=EulerDiscreteScheduler(), tokenizer=p.tokenizers[0]
        )
        if p.family == "sdxl":
            return StableDiffusionXLPipeline(
                text_encoder=p.text_encoders[0],
                text_encoder_2=p.text_encoders[1],
                tokenizer_2=p.tokenizers[1],
                **common,
            )
        return StableDiffusionPipeline(
            text_encoder=p.text_encoders[0],
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
            **common,
        )

    def _load(self, host, name: str, path: Path, state: dict[str, torch.Tensor]) -> None:
        expected = _lora_layers(state)
        try:
            host.load_lora_weights(state, adapter_name=name)
        except (ValueError, RuntimeError, KeyError, TypeError, AttributeError) as err:
            raise ModelLoadError(
                f"LoRA {path.name} does not fit {self.parts.name} ({self.parts.family}): "
                f"made for another base model? ({_first_line(err)})"
            ) from None
        loaded = sum(
            1
            for module in self._models(host)
            for layer in module.modules()
            if isinstance(layer, BaseTunerLayer) and name in getattr(layer, "lora_A", {})
        )
        if loaded == 0 or loaded < expected:
            raise ModelLoadError(
                f"LoRA {path.name}: {expected - loaded} of its {expected} layers are not in "
                f"{self.parts.name} ({self.parts.family}): it was made for another base model"
            )

    def _models(self, host) -> list[torch.nn.Module]:
        names = ("unet", "text_encoder", "text_encoder_2")
        return [m for m in (getattr(host, n, None) for n in names) if m is not None]

    def _components(self, host) -> list[str]:
        names = ["unet", "text_encoder", "text_encoder_2"]
        return [n for n in names if getattr(host, n, None) is not None]

    @torch.no_grad()
    def _keep_base(self) -> None:
        """A CPU copy of every wrapped layer's weight not kept yet (now its base weight)."""
        for model in (self.parts.unet, *self.parts.text_encoders):
            for layer in model.modules():
                if isinstance(layer, BaseTunerLayer):
                    base = layer.get_base_layer()
                    if base not in self._base:
                        self._base[base] = _weight(base).detach().to("cpu", copy=True)

    @torch.no_grad()
    def _restore_base(self) -> None:
        for layer, weight in self._base.items():
            _weight(layer).copy_(weight)


def _weight(layer: torch.nn.Module) -> torch.Tensor:
    """The weight of a layer a LoRA wraps (a linear or convolution layer)."""
    weight = layer.weight
    assert isinstance(weight, torch.Tensor), f"a LoRA wraps {type(layer).__name__}, no weight"
    return weight


def _read(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix.lower() != ".safetensors":
        raise ModelLoadError(f"LoRA {path.name}: only .safetensors files are read")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelLoadError(
            f"LoRA {path.name} is not a readable .safetensors file ({_first_line(err)})"
        ) from None
    if not state or not _lora_layers(state):
        raise ModelLoadError(f"LoRA {path.name} holds no LoRA layers: is it a LoRA file?")
    return state


def _lora_layers(state: dict[str, torch.Tensor]) -> int:
    """How many layers the file changes (each has one down/A matrix)."""
    return sum(1 for key in state if any(part in key for part in _LORA_KEY_PARTS))


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:160] if text else type(err).__name__

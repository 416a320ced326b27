"""Stopping a frame inside a model forward, not only between denoising steps.

At one step there is no "between steps": the ControlNet and UNet forwards are the frame. A
forward pre-hook on each of their residual and transformer blocks asks whether the frame is
still wanted and raises ``RenderCancelled`` when it is not, so a closing window or a newer
request waits for one block (milliseconds even for SDXL on a CPU), not a whole frame. The
decoders get them too: a full-size tiny decoder takes over a second at 512 on a small CPU,
and an export's full VAE several, so without them a close or "Quit without waiting" would
still wait for a whole decode.

The hooks stay registered for the engine's life; between frames they ask a function that
always answers no. Their cost is one Python call per block (a few hundred per SDXL frame),
measured in docs/PERFORMANCE.md. Compiled models get none: a hook inside a compiled graph
would be traced as a constant, and compiled frames run on GPUs, where they are short.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator

from torch import nn

from desktop_app.core.errors import RenderCancelled

# diffusers' building blocks of the UNet and the ControlNet (names, not classes: they move
# between diffusers modules from one release to the next).
_BLOCKS = frozenset(
    {
        "ResnetBlock2D",  # also the full VAE's
        "BasicTransformerBlock",
        "Downsample2D",
        "Upsample2D",  # also the full VAE's
        "Transformer2DModel",
        "AutoencoderTinyBlock",  # the tiny autoencoder's
    }
)


def _never() -> bool:
    return False


def cancellable_models(parts) -> tuple[nn.Module | None, ...]:
    """The models of ``parts`` (a ``ModelParts``) that get cancel points: every one a frame
    or an export runs block by block (the text encoders run once per prompt, then cached).
    A model whose own decoder is tiny uses it for both previews and exports: listed once."""
    tae = None if parts.tae is parts.vae else parts.tae
    return (parts.unet, parts.controlnet, tae, parts.vae)


class CancelPoints:
    """Pre-hooks on every block of ``models`` that raise when the armed check says so."""

    def __init__(self, models: Iterable[nn.Module | None]) -> None:
        self._should_cancel: Callable[[], bool] = _never
        self._handles = []
        for model in models:
            if model is None:
                continue
            for module in model.modules():
                if type(module).__name__ in _BLOCKS:
                    self._handles.append(module.register_forward_pre_hook(self._check))

    @property
    def count(self) -> int:
        return len(self._handles)

    def _check(self, _module: nn.Module, _args: tuple) -> None:
        if self._should_cancel():
            raise RenderCancelled("the frame was cancelled")

    @contextlib.contextmanager
    def armed(self, should_cancel: Callable[[], bool]) -> Iterator[None]:
        """Within the block, every hook asks ``should_cancel``."""
        self._should_cancel = should_cancel
        try:
            yield
        finally:
            self._should_cancel = _never

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

"""The frame's torch modules → OpenVINO models at one frame size, and the 8-bit passes.

Each model is traced from the engine's own loaded module (LoRAs already fused into its
weights) with ``openvino.convert_model`` and fixed to the frame's shapes: static shapes let
the CPU plugin pick its kernels once. The ControlNet's residuals come out as separate
outputs and go into the UNet as separate inputs, so the engine hands them over without a
copy (``engine.Forwards``). The control scale is an input, so every slider position shares
one compiled ControlNet.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from desktop_app.engine.openvino.target import import_nncf, import_openvino

_log = logging.getLogger("live_canvas")
PARTS = ("controlnet", "unet", "decoder", "encoder")


class _ControlNetForward(torch.nn.Module):
    """(sample, t, text, control, scale[, pooled, time ids]) → (*down residuals, mid)."""

    def __init__(self, controlnet: torch.nn.Module, sdxl: bool):
        super().__init__()
        self.controlnet, self.sdxl = controlnet, sdxl

    def forward(self, sample, timestep, embeds, control, scale, text_embeds=None, time_ids=None):
        added = {"text_embeds": text_embeds, "time_ids": time_ids} if self.sdxl else None
        down, mid = self.controlnet(
            sample,
            timestep,
            encoder_hidden_states=embeds,
            controlnet_cond=control,
            conditioning_scale=scale,
            added_cond_kwargs=added,
            return_dict=False,
        )
        return (*down, mid)


class _UNetForward(torch.nn.Module):
    """(sample, t, text[, pooled, time ids], *down residuals, mid) → the model's output."""

    def __init__(self, unet: torch.nn.Module, sdxl: bool):
        super().__init__()
        self.unet, self.sdxl = unet, sdxl

    def forward(self, sample, timestep, embeds, *rest):
        added = None
        if self.sdxl:
            added = {"text_embeds": rest[0], "time_ids": rest[1]}
            rest = rest[2:]
        return self.unet(
            sample,
            timestep,
            encoder_hidden_states=embeds,
            added_cond_kwargs=added,
            down_block_additional_residuals=list(rest[:-1]),
            mid_block_additional_residual=rest[-1],
            return_dict=False,
        )[0]


@dataclass(frozen=True)
class Shapes:
    """The frame's input shapes at one size, for a model of ``parts``."""

    size: int
    text: tuple[int, ...]  # the prompt embeddings
    pooled: tuple[int, ...] | None  # SDXL's pooled text
    residuals: tuple[tuple[int, ...], ...]  # the ControlNet's outputs, down then mid

    @property
    def latent(self) -> tuple[int, int, int, int]:
        return (1, 4, self.size // 8, self.size // 8)


def shapes_of(engine, size: int) -> Shapes:
    """Traced once through the torch ControlNet at ``size``: the exact residual shapes."""
    text = engine.prompts.encode("")
    added = engine._added_cond(text.pooled, size)
    sample = torch.zeros((1, 4, size // 8, size // 8), dtype=engine.dtype)
    control = torch.zeros((1, 3, size, size), dtype=engine.dtype)
    with torch.no_grad():
        down, mid = engine.parts.controlnet(
            sample,
            torch.tensor(999.0),
            encoder_hidden_states=text.embeds,
            controlnet_cond=control,
            added_cond_kwargs=added,
            return_dict=False,
        )
    pooled = None if text.pooled is None else tuple(text.pooled.shape)
    residuals = tuple(tuple(r.shape) for r in (*down, mid))
    return Shapes(size, tuple(text.embeds.shape), pooled, residuals)


def _examples(part: str, shapes: Shapes) -> tuple[torch.Tensor, ...]:
    zeros = lambda shape: torch.zeros(shape, dtype=torch.float32)  # noqa: E731
    latent, sdxl = zeros(shapes.latent), shapes.pooled is not None
    t = torch.tensor(999.0)
    added = (zeros(shapes.pooled), zeros((1, 6))) if sdxl else ()
    if part == "controlnet":
        control = zeros((1, 3, shapes.size, shapes.size))
        return (latent, t, zeros(shapes.text), control, torch.tensor(1.0), *added)
    if part == "unet":
        return (latent, t, zeros(shapes.text), *added, *(zeros(s) for s in shapes.residuals))
    if part == "decoder":
        return (latent,)
    return (zeros((1, 3, shapes.size, shapes.size)),)  # the encoder: an image in [-1, 1]


def module_of(parts, part: str) -> torch.nn.Module:
    """The torch module behind ``part`` (one of PARTS) in ``parts`` (a ``ModelParts``)."""
    if part in ("controlnet", "unet"):
        return getattr(parts, part)
    return parts.tae.decoder if part == "decoder" else parts.tae.encoder


def convert(module: torch.nn.Module, examples: Sequence[torch.Tensor]):
    """``module`` as an ``openvino.Model`` with static input shapes (those of ``examples``)."""
    ov = import_openvino()
    shapes = [ov.PartialShape(list(t.shape)) for t in examples]
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # The tracer warns at every Python branch on a shape; shapes are fixed here.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        model = ov.convert_model(module.eval(), example_input=tuple(examples), input=shapes)
    return model


def convert_module(part: str, module: torch.nn.Module, shapes: Shapes):
    """``module``, the torch module of ``part`` (one of PARTS), at ``shapes.size`` as an fp32
    OpenVINO model; the ControlNet and UNet called as ``forwards.Forwards`` feeds them."""
    sdxl = shapes.pooled is not None
    if part == "controlnet":
        module = _ControlNetForward(module, sdxl)
    elif part == "unet":
        module = _UNetForward(module, sdxl)
    return convert(module, _examples(part, shapes))


def convert_part(engine, part: str, shapes: Shapes):
    """The engine's ``part`` (one of PARTS) at ``shapes.size``, as an fp32 OpenVINO model."""
    return convert_module(part, module_of(engine.parts, part), shapes)


@contextlib.contextmanager
def _quiet_nncf():
    """NNCF prints its tables and progress bars on stdout, where ``bench --json`` writes its
    report: they go to stderr, and its log below warnings."""
    logging.getLogger("nncf").setLevel(logging.WARNING)
    with contextlib.redirect_stdout(sys.stderr):
        yield


def compress_weights(model):
    """int8-weights: every matrix and convolution weight in 8 bits (NNCF's default,
    asymmetric per output channel), decompressed on the fly; activations stay float."""
    nncf = import_nncf()
    with _quiet_nncf():
        return nncf.compress_weights(model)


def quantize(
    model, samples: Sequence[Sequence[np.ndarray]], transformer: bool = True, scope: str = "all"
):
    """int8: weights and activations in 8 bits (NNCF post-training quantization), the
    activation ranges measured on ``samples`` (each one forward's inputs, in input order).
    ``transformer``: the UNet and the ControlNet (NNCF's transformer scheme: attention's
    matrix products quantized, softmax and norms left in float); the convolutional decoder
    gets the mixed preset (asymmetric activations: its ReLU outputs are all positive).
    ``scope`` "convolutions" leaves every matrix product (linear layers, attention) in float
    (``target.INT8_SCOPES``)."""
    nncf = import_nncf()
    data = nncf.Dataset(list(samples), lambda sample: tuple(sample))
    options: dict = {}
    if transformer and scope == "all":
        options["model_type"] = nncf.ModelType.TRANSFORMER
    else:  # also the convolutions of a UNet alone: no smoothing of products left in float
        options["preset"] = nncf.QuantizationPreset.MIXED
    if scope == "convolutions":
        options["ignored_scope"] = nncf.IgnoredScope(
            types=["MatMul", "ScaledDotProductAttention"], validate=False
        )
    try:
        with _quiet_nncf():
            return nncf.quantize(model, data, subset_size=len(samples), **options)
    except ValueError:
        # NNCF's bias correction fails on some small layers (a bias of another shape than
        # the one it computed, seen on the tiny test decoder): quantize without it.
        _log.warning("NNCF's bias correction failed; quantizing without it", exc_info=True)
        advanced = nncf.AdvancedQuantizationParameters(disable_bias_correction=True)
        with _quiet_nncf():
            return nncf.quantize(
                model, data, subset_size=len(samples), advanced_parameters=advanced, **options
            )

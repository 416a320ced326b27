"""Linear and convolution weights reordered once, at load, into oneDNN's blocked layout.

On the CPU, every bf16 or fp32 matrix product and convolution that PyTorch hands to oneDNN
first reorders its weight into the blocked layout the kernels read, and it does so on every
call. At preview sizes the UNet's matrices are thin (64 to 1,024 tokens) and that reorder is a
large share of the frame: packing once made a random:sdxl frame at 256x256 about 1.5x faster
on an AMX CPU (docs/PERFORMANCE.md). IPEX's ``optimize`` and inductor's freezing pass do the
same; doing it directly costs seconds at load instead of a compile.

The packed weight replaces the dense one (no second copy in memory) and ``unpack`` restores it
bit for bit, for code that needs plain modules again (the benchmark's stock pipeline).
"""

from __future__ import annotations

import ctypes
import os
import sys
import types
from collections.abc import Iterable
from typing import TypeGuard

import torch
from torch import nn

# Only a layout hint for oneDNN: a weight packed for one token count is correct, and about as
# fast, for any other (checked for 64 to 4096 tokens).
_TOKEN_HINT = 256
_SPATIAL_HINT = 64


def can_pack(device: torch.device, dtype: torch.dtype) -> bool:
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    ops = torch.ops.mkldnn
    if not all(
        hasattr(ops, name)
        for name in (
            "_reorder_linear_weight",
            "_linear_pointwise",
            "_reorder_convolution_weight",
            "_convolution_pointwise",
        )
    ):
        return False
    if dtype == torch.bfloat16:
        return bool(ops._is_mkldnn_bf16_supported())
    return dtype == torch.float32


def pack_if_supported(
    models: Iterable[nn.Module | None], device: torch.device, dtype: torch.dtype
) -> PackedWeights | None:
    """The models' layers packed where this CPU and PyTorch build allow it and it pays, else
    None. By default only bf16 is packed: in fp32 on an AVX2 CPU without native bf16, packed
    full-size models ran slower than plain ones (random:sd21 and random:sd15 at 256: 7.0 s
    against 5.2-5.4 s a frame; docs/PERFORMANCE.md), MKL's own fp32 kernels being the better
    ones there. LIVE_CANVAS_PACK_WEIGHTS=0 turns packing off, =1 packs fp32 too."""
    setting = os.environ.get("LIVE_CANVAS_PACK_WEIGHTS", "")
    if setting == "0" or not can_pack(device, dtype):
        return None
    if dtype != torch.bfloat16 and setting != "1":
        return None
    packing = PackedWeights(m for m in models if m is not None)
    packed = packing.pack()
    release_freed_memory()  # the dense copies, gigabytes for SDXL
    return packing if packed else None


def _packed_linear(self: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, self.packed_weight, self.bias, "none", [], "")


def _packed_conv(self: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._convolution_pointwise(
        x,
        self.packed_weight,
        self.bias,
        list(self.padding),
        list(self.stride),
        list(self.dilation),
        self.groups,
        "none",
        [],
        "",
    )


_Packable = nn.Linear | nn.Conv2d


def _packable(module: nn.Module) -> TypeGuard[_Packable]:
    # Exact types: a subclass may have a forward of its own that packing would bypass.
    if type(module) is nn.Linear:
        return True
    return (
        type(module) is nn.Conv2d
        and isinstance(module.padding, tuple)  # not "same" / "valid"
        and module.padding_mode == "zeros"
    )


class PackedWeights:
    """The packable layers under ``roots``; ``pack`` and ``unpack`` switch them in place."""

    def __init__(self, roots: Iterable[nn.Module]):
        self._layers = [m for root in roots for m in root.modules() if _packable(m)]
        self.packed = False
        self.weight_bytes = sum(m.weight.numel() * m.weight.element_size() for m in self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    # no_grad, not inference_mode: restored weights must stay ordinary tensors that code outside
    # inference mode (the bench's stock pipeline, a later in-place edit) may use.
    @torch.no_grad()
    def pack(self) -> bool:
        """Pack every layer, or none: if this PyTorch build packs a layer into something that
        computes differently, everything stays dense and this returns False."""
        if self.packed or not self._layers:
            return self.packed
        first = self._layers[0]
        probe = _probe_input(first)
        expected = first(probe)
        try:
            for layer in self._layers:
                _pack_layer(layer)
            ok = torch.allclose(first(probe).float(), expected.float(), rtol=2e-2, atol=2e-2)
        except (RuntimeError, TypeError):  # an op missing or refusing this layer
            ok = False
        self.packed = True
        if not ok:
            self.unpack()
        return self.packed

    @torch.no_grad()
    def unpack(self) -> None:
        for layer in self._layers:
            state = vars(layer)
            if "packed_weight" not in state:
                continue
            dense = state["packed_weight"].to_dense()
            # Back in the layout it had (channels-last convolutions stay channels-last).
            restored = torch.empty_strided(dense.shape, state["dense_strides"], dtype=dense.dtype)
            layer.weight.data = restored.copy_(dense)
            del layer.packed_weight, layer.dense_strides, layer.forward
        self.packed = False


def _pack_layer(layer: _Packable) -> None:
    weight = layer.weight.detach()
    mkldnn = torch.ops.mkldnn
    # Plain instance attributes, where nn.Module's __setattr__ would put them too (they are
    # neither parameters nor buffers); written through vars() so that a type checker does not
    # read them as the Tensor | Module that nn.Module types every unknown attribute as. The
    # instance's forward shadows the class's until ``unpack`` deletes it.
    state = vars(layer)
    if isinstance(layer, nn.Linear):
        state["packed_weight"] = mkldnn._reorder_linear_weight(weight, _TOKEN_HINT)
        state["forward"] = types.MethodType(_packed_linear, layer)
    else:
        state["packed_weight"] = mkldnn._reorder_convolution_weight(
            weight,
            list(layer.padding),
            list(layer.stride),
            list(layer.dilation),
            layer.groups,
            [1, layer.in_channels, _SPATIAL_HINT, _SPATIAL_HINT],
        )
        state["forward"] = types.MethodType(_packed_conv, layer)
    state["dense_strides"] = weight.stride()
    # The dense copy goes: the packed one holds the same numbers. The parameter stays (empty,
    # same dtype) so that ``module.dtype`` and the parameter lists still answer.
    layer.weight.data = torch.empty(0, dtype=weight.dtype)


def _probe_input(layer: _Packable) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    shape: tuple[int, ...]
    if isinstance(layer, nn.Linear):
        shape = (3, layer.in_features)
    else:
        shape = (1, layer.in_channels, 8, 8)
    return torch.rand(shape, generator=generator).to(layer.weight.dtype)


def release_freed_memory() -> None:
    """glibc keeps freed blocks of a few MB in its heap rather than unmapping them, so after
    weights are replaced the old copies would still count against a small machine's RAM;
    ``malloc_trim`` hands those pages back."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to trim
        pass

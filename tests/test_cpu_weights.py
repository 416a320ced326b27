"""Packed CPU weights (``engine/cpu_weights.py``): same pictures, exact round trip, and a
build that cannot pack leaves the model as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from desktop_app.core.types import RenderRequest
from desktop_app.engine import cpu_weights
from desktop_app.engine.cpu_weights import PackedWeights, can_pack, pack_if_supported
from desktop_app.engine.device import Placement

CPU = torch.device("cpu")
needs_packing = pytest.mark.skipif(
    not can_pack(CPU, torch.float32), reason="this PyTorch build has no oneDNN packing"
)


def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(4, 16, 3, padding=1),
        torch.nn.Conv2d(16, 16, 3, stride=2, padding=1),
        torch.nn.Conv2d(16, 16, 1),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * 8 * 8, 32),
        torch.nn.Linear(32, 8, bias=False),
    )
    return model.to(memory_format=torch.channels_last).eval()


@needs_packing
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_packed_layers_compute_what_the_dense_ones_did(dtype, monkeypatch):
    if not can_pack(CPU, dtype):
        pytest.skip(f"no native {dtype} on this CPU")
    monkeypatch.setenv("LIVE_CANVAS_PACK_WEIGHTS", "1")
    model = small_model().to(dtype)
    x = torch.rand(2, 4, 16, 16).to(dtype).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        dense = model(x)
        packing = pack_if_supported([model], CPU, dtype)
        assert packing is not None and packing.packed and len(packing) == 5
        assert all(m.weight.numel() == 0 for m in model if hasattr(m, "weight"))
        torch.testing.assert_close(model(x), dense, rtol=2e-2, atol=2e-2)


@needs_packing
def test_unpacking_restores_every_weight_and_its_layout():
    model = small_model()
    before = {n: (p.detach().clone(), p.stride()) for n, p in model.named_parameters()}
    packing = PackedWeights([model])
    assert packing.pack()
    packing.unpack()
    assert not packing.packed
    for name, param in model.named_parameters():
        value, stride = before[name]
        assert torch.equal(param, value) and param.stride() == stride, name
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_a_build_that_cannot_pack_leaves_the_model_dense(monkeypatch):
    model = small_model()
    x = torch.rand(1, 4, 16, 16)
    with torch.inference_mode():
        dense = model(x)

    def refuse(*_args):
        raise RuntimeError("no such kernel")

    monkeypatch.setattr(cpu_weights, "_pack_layer", refuse)
    assert not PackedWeights([model]).pack()
    with torch.inference_mode():
        assert torch.equal(model(x), dense)


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("LIVE_CANVAS_PACK_WEIGHTS", "0")
    assert pack_if_supported([small_model()], CPU, torch.float32) is None


@needs_packing
def test_fp32_is_packed_only_when_asked(monkeypatch):
    """Packing fp32 made full-size models slower on a CPU without native bf16."""
    monkeypatch.delenv("LIVE_CANVAS_PACK_WEIGHTS", raising=False)
    assert pack_if_supported([small_model()], CPU, torch.float32) is None
    monkeypatch.setenv("LIVE_CANVAS_PACK_WEIGHTS", "1")
    assert pack_if_supported([small_model()], CPU, torch.float32) is not None


def test_nothing_to_pack_on_other_devices_or_half_precision():
    assert not can_pack(torch.device("meta"), torch.float32)
    assert not can_pack(CPU, torch.float16)


@needs_packing
def test_the_engine_packs_and_renders_the_same_picture(monkeypatch, sketch):
    """The tiny model with and without packing: same seed, the same picture up to rounding."""
    from desktop_app.engine.builders import build_tiny
    from desktop_app.engine.renderer import Engine

    placement = Placement(CPU, torch.float32)
    request = RenderRequest(sketch=sketch, prompt="a red house", seed=3, size=256)
    monkeypatch.setenv("LIVE_CANVAS_PACK_WEIGHTS", "1")  # fp32 is packed only when asked
    packed = Engine(build_tiny(), placement)
    assert packed.packed_weights is not None and packed.packed_weights.packed
    monkeypatch.setenv("LIVE_CANVAS_PACK_WEIGHTS", "0")
    dense = Engine(build_tiny(), placement)
    assert dense.packed_weights is None
    a, b = packed.render(request).image, dense.render(request).image
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2
    assert np.array_equal(a, packed.render(request).image)  # still deterministic

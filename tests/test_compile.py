"""The optimise mode (``--compile``) on the built-in tiny model, with dynamo's ``eager`` backend:
dynamo traces the frame path and guards it as on a GPU, but generates no code, so it is quick
on a CPU and its frames must match the uncompiled engine's exactly."""

from __future__ import annotations

from functools import partialmethod

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

from desktop_app.core.types import RenderRequest
from desktop_app.engine.loading import load_engine
from desktop_app.engine.renderer import OPTIMISING, Engine


@pytest.fixture(scope="module")
def messages() -> list[str]:
    return []


@pytest.fixture(scope="module")
def compiled(messages):
    return load_engine(
        "tiny", device="cpu", compile_models=True, compile_backend="eager", progress=messages.append
    )


@pytest.fixture(scope="module")
def plain():
    """Uncompiled and, like the compiled engine, with plain (unpacked) CPU weights: packing
    changes the order of additions, and these tests compare pixels exactly."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIVE_CANVAS_PACK_WEIGHTS", "0")
        return load_engine("tiny", device="cpu")


def request(sketch: np.ndarray, **kw) -> RenderRequest:
    return RenderRequest(sketch=sketch, prompt="a cat", seed=3, **kw)


def test_loading_compiles_with_a_visible_optimising_state(compiled, messages):
    assert compiled.compiled and messages[-1] == OPTIMISING
    # the bound forwards are swapped, the modules (which hooks and the bench hold) are not
    assert "forward" in vars(compiled.parts.unet) and "forward" in vars(compiled.parts.controlnet)
    assert "forward" in vars(compiled.parts.tae.decoder)


@pytest.mark.parametrize(
    "settings",
    [{}, {"mode": "colour", "strength": 0.7}, {"control_scale": 0.0}, {"control_scale": 0.45}],
)
def test_compiled_frames_equal_the_uncompiled_ones(compiled, plain, sketch, settings):
    a = compiled.render(request(sketch, **settings))
    b = plain.render(request(sketch, **settings))
    torch.testing.assert_close(a.latents, b.latents, rtol=0, atol=0)
    np.testing.assert_array_equal(a.image, b.image)


def test_the_warm_up_graphs_serve_every_frame_at_that_size(compiled, sketch):
    """Static shapes: after the warm-up, new sketches, colour mode, other control scales and
    steps must not compile again (each compile would be a long stall on a GPU)."""
    compiled.render(request(sketch))  # any graph the warm-up missed would be compiled here
    graphs = counters["stats"]["unique_graphs"]
    calls = []
    hook = compiled.parts.unet.register_forward_hook(lambda *_: calls.append(1))
    try:
        first = compiled.render(request(sketch, control_scale=1.3))
        other = sketch.copy()
        other[40:120, 40:470] = 0
        second = compiled.render(request(other, control_scale=0.2, steps=2))
        colour = compiled.render(request(other, mode="colour"))
    finally:
        hook.remove()
    assert counters["stats"]["unique_graphs"] == graphs
    assert calls == [1] * 4  # hooks still see the compiled forwards
    assert not np.array_equal(first.image, second.image)
    assert colour.image.shape == (512, 512, 3)


def test_bench_compile_keeps_the_stock_pipeline_uncompiled(monkeypatch):
    from desktop_app.bench import benchmark

    monkeypatch.setattr(Engine, "__init__", partialmethod(Engine.__init__, compile_backend="eager"))
    seen = []
    original = benchmark._stock_run

    def spy(name, pipe, size, dtype):
        run = original(name, pipe, size, dtype)
        inner = run.frame

        def frame(sketch):
            # the engine's frames share this UNet: look only while the pipeline runs
            handle = pipe.unet.register_forward_pre_hook(
                lambda module, _args: seen.append("forward" in vars(module))
            )
            try:
                return inner(sketch)
            finally:
                handle.remove()

        run.frame = frame
        return run

    monkeypatch.setattr(benchmark, "_stock_run", spy)
    config = benchmark.BenchConfig(model="tiny", size=128, frames=1, warmup=1, compile=True)
    report = benchmark.run_benchmark(config)
    assert seen and not any(seen)  # the stock pipeline ran diffusers' own forward
    assert report["compile"] and any("compiled" in note for note in report["notes"])
    assert 0 < report["forwards_ms"] <= report["engine_ms"]
    assert len(report["warmup_ms"]["engine"]) == 1


def test_a_compiled_engine_fuses_styles_and_says_it_optimises_again(
    compiled, plain, sketch, tmp_path
):
    from lora_factory import lora_matrices, save_peft_lora

    ink = str(save_peft_lora(lora_matrices(plain.parts, seed=9), tmp_path / "ink.safetensors"))
    said: list[str] = []
    compiled.set_loras(((ink, 0.9),), progress=said.append)
    try:
        assert said[0] == "applying styles" and OPTIMISING in said
        a = compiled.render(request(sketch, size=512, loras=((ink, 0.9),)))
        b = plain.render(request(sketch, size=512, loras=((ink, 0.9),)))
        np.testing.assert_array_equal(a.image, b.image)
        base = plain.render(request(sketch, size=512))
        assert not np.array_equal(a.image, base.image)
    finally:
        compiled.set_loras(())
        plain.set_loras(())
    np.testing.assert_array_equal(compiled.render(request(sketch)).image,
                                  plain.render(request(sketch)).image)

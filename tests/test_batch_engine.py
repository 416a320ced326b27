"""Frames stacked into one forward (engine/batch.py) are the frames rendered alone: in fp32 on
the tiny models, across prompts, seeds, modes, strengths and control scales."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from desktop_app.core.errors import InvalidRequestError, RenderCancelled
from desktop_app.core.types import RenderRequest
from desktop_app.engine.batch import batch_key


@pytest.fixture(scope="module")
def fp32(tiny_folder):
    from desktop_app.engine.loading import load_engine

    return load_engine(str(tiny_folder), device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def fp32_sd21(tiny_sd21_folder):
    from desktop_app.engine.loading import load_engine

    return load_engine(str(tiny_sd21_folder), device="cpu", dtype="float32")


def _drawing(seed: int, size: int = 256) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 255, np.uint8)
    x, y = rng.integers(8, size // 2, 2)
    img[y : y + 4, x : x + size // 3] = 0
    img[y : y + size // 3, x : x + 4] = 0
    img[y : y + 40, x + 20 : x + 60] = rng.integers(0, 255, 3)  # a colour patch
    return img


MIXED = [
    dict(prompt="a red barn", seed=1, control_scale=1.0),
    dict(prompt="a lighthouse", seed=2, control_scale=0.5),
    dict(prompt="a red barn", seed=3, control_scale=0.0),
    dict(prompt="", seed=4, mode="colour", strength=0.6, control_scale=0.8),
    dict(prompt="a lighthouse", seed=5, mode="colour", strength=0.9),
]


def _requests(specs, size=256, steps=1) -> list[RenderRequest]:
    return [
        RenderRequest(sketch=_drawing(i, size), size=size, steps=steps, request_id=i + 1, **spec)
        for i, spec in enumerate(specs)
    ]


@pytest.mark.parametrize("steps", [1, 2])
def test_a_batched_frame_is_the_frame_alone(fp32, steps):
    requests = _requests(MIXED, steps=steps)
    batched = fp32.render_batch(requests)
    for request, result in zip(requests, batched, strict=True):
        alone = fp32.render(request)
        assert result.request_id == request.request_id
        assert result.params == alone.params
        assert result.warnings == alone.warnings
        assert _picture_difference(fp32, result, alone) <= 1e-5, (request.seed, request.mode)
        # The random model's latents reach +-60, where fp32 holds ~7 digits: to rounding.
        latents = (result.latents - alone.latents).abs().max().item()
        assert latents <= 1e-6 * alone.latents.abs().max().item()
        pixels = np.abs(result.image.astype(int) - alone.image.astype(int)).max()
        assert pixels <= 1  # the same picture, rounded to bytes


def _picture_difference(engine, result, alone) -> float:
    """The largest difference between the two frames' pictures before rounding to bytes
    (the preview decoder's output, in [-1, 1])."""
    with torch.inference_mode():
        return (
            (engine._decode_preview(result.latents) - engine._decode_preview(alone.latents))
            .abs()
            .max()
            .item()
        )


def test_the_sd21_shaped_model_batches_the_same(fp32_sd21):
    requests = _requests(MIXED[:3])
    for request, result in zip(requests, fp32_sd21.render_batch(requests), strict=True):
        assert _picture_difference(fp32_sd21, result, fp32_sd21.render(request)) <= 1e-5


def test_each_distinct_prompt_is_encoded_once(fp32):
    requests = _requests(
        [dict(prompt=p, seed=s) for p, s in (("an owl", 1), ("a fox", 2), ("an owl", 3))]
    )
    before = fp32.prompts.encode_count
    fp32.render_batch(requests)
    assert fp32.prompts.encode_count - before == 2
    fp32.render_batch(requests)  # kept for the next batches
    assert fp32.prompts.encode_count - before == 2


def test_other_sizes_steps_or_styles_are_never_stacked(fp32):
    small, large = _requests([{}], size=256)[0], _requests([{}], size=320)[0]
    assert batch_key(small) != batch_key(large)
    assert batch_key(small) != batch_key(_requests([{}], steps=2)[0])
    with pytest.raises(InvalidRequestError):
        fp32.render_batch([small, large])


def test_a_batch_given_up_stops_with_render_cancelled(fp32):
    with pytest.raises(RenderCancelled):
        fp32.render_batch(_requests(MIXED[:2]), should_cancel=lambda: True)


def test_every_frame_carries_its_own_timings_and_load(fp32):
    results = fp32.render_batch(_requests(MIXED[:2]))
    assert all(r.load_id == fp32.load_id for r in results)
    assert results[0].timings.total_ms > 0
    assert torch.is_tensor(results[1].latents) and results[1].latents.shape[0] == 1

"""Cancelling a frame inside the model forwards (``engine/cancellation.py``) on the real tiny
engine, and the render worker superseding a frame in flight with it.

The tiny engine is the session's (``engine`` fixture): every hook a test adds to its modules is
removed before the test ends. Frames are 128 px, so the file stays quick; the worker tests make
a frame slow with a sleep before each of the UNet's residual blocks (after the cancel check
that the engine put there), so that a frame is long enough to be superseded and the frame
time the worker learns from it is real.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from desktop_app.app.worker import SUPERSEDE_MIN_REMAINING_S, RenderWorker
from desktop_app.core.errors import RenderCancelled
from desktop_app.core.types import RenderRequest
from desktop_app.engine.cancellation import CancelPoints

SIZE = 128


def make_request(sketch: np.ndarray, seed: int = 3, request_id: int = 0) -> RenderRequest:
    return RenderRequest(
        sketch=sketch, prompt="a lighthouse", size=SIZE, seed=seed, request_id=request_id
    )


class CountingCheck:
    """A ``should_cancel`` that says yes from its ``after + 1``-th call on (never if None)."""

    def __init__(self, after: int | None = None) -> None:
        self.after = after
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.after is not None and self.calls > self.after


@contextlib.contextmanager
def recorded(**modules: torch.nn.Module) -> Iterator[dict[str, list[int]]]:
    """``counts[name] == [forwards started, forwards finished]`` for each module."""
    counts = {name: [0, 0] for name in modules}
    handles = []
    for name, module in modules.items():

        def before(_module, _args, name=name):
            counts[name][0] += 1

        def after(_module, _args, _out, name=name):
            counts[name][1] += 1

        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    try:
        yield counts
    finally:
        for handle in handles:
            handle.remove()


def watched(engine) -> dict[str, torch.nn.Module]:
    unet = engine.parts.unet
    return {
        "controlnet": engine.parts.controlnet,
        "unet": unet,
        "unet first block": unet.down_blocks[0],
        "unet last block": unet.up_blocks[-1],
        "unet conv_out": unet.conv_out,
        "decoder": engine.parts.tae.decoder,
    }


def points_in(*models) -> int:
    points = CancelPoints(models)
    try:
        return points.count
    finally:
        points.remove()


def controlnet_points(engine) -> int:
    return points_in(engine.parts.controlnet)


def frame_points(engine) -> int:
    """The cancel points a scribble frame passes: ControlNet, UNet, the tiny decoder."""
    parts = engine.parts
    return points_in(parts.controlnet, parts.unet, parts.tae.decoder)


# --- the engine -----------------------------------------------------------------------------


def test_the_tiny_engine_has_cancel_points_in_every_model_a_frame_or_export_runs(engine):
    parts = engine.parts
    counts = [points_in(m) for m in (parts.controlnet, parts.unet, parts.tae, parts.vae.decoder)]
    assert all(n > 0 for n in counts), counts
    assert engine.cancel_points.count >= sum(counts)


@pytest.mark.parametrize("where", ["controlnet", "unet"])
def test_a_frame_stops_at_the_first_block_after_the_check_says_so(engine, sketch, where):
    # Calls, one step: the renderer's check before the step, then one per block of the
    # ControlNet, then the UNet's. Say "cancel" at the third block of the chosen model.
    before_model = 1 if where == "controlnet" else 1 + controlnet_points(engine)
    check = CountingCheck(after=before_model + 2)
    with recorded(**watched(engine)) as counts, pytest.raises(RenderCancelled):
        engine.render(make_request(sketch), should_cancel=check)
    assert check.calls == check.after + 1  # nothing asked again: it raised at once
    assert counts[where] == [1, 0]  # the model started and never finished
    if where == "controlnet":
        assert counts["unet"] == [0, 0]
    else:
        assert counts["controlnet"] == [1, 1]
        assert counts["unet first block"][0] == 1
    assert counts["unet last block"] == [0, 0]
    assert counts["unet conv_out"] == [0, 0]
    assert counts["decoder"] == [0, 0]


def test_a_frame_stops_inside_the_decoder(engine, sketch):
    # Past every ControlNet and UNet block and two blocks into the tiny decoder.
    check = CountingCheck(after=1 + points_in(engine.parts.controlnet, engine.parts.unet) + 3)
    with recorded(**watched(engine)) as counts, pytest.raises(RenderCancelled):
        engine.render(make_request(sketch), should_cancel=check)
    assert counts["unet"] == [1, 1] and counts["decoder"] == [1, 0]


def test_an_export_stops_inside_the_full_vae_and_exports_as_before_after(engine, sketch):
    result = engine.render(make_request(sketch))
    plain = engine.export_image(result)
    decoder = engine.parts.vae.decoder
    with recorded(vae=decoder) as counts, pytest.raises(RenderCancelled):
        engine.export_image(result, should_cancel=CountingCheck(after=2))
    assert counts["vae"] == [1, 0]
    check = CountingCheck()
    again = engine.export_image(result, should_cancel=check)
    assert check.calls >= points_in(decoder) and np.array_equal(again, plain)


def test_armed_hooks_that_never_cancel_change_no_pixels(engine, sketch):
    request = make_request(sketch)
    plain = engine.render(request)
    check = CountingCheck()
    asked = engine.render(request, should_cancel=check)
    assert check.calls >= frame_points(engine)  # every block asked, and none stopped it
    assert np.array_equal(asked.image, plain.image)
    assert torch.equal(asked.latents, plain.latents)


def test_the_frame_after_a_cancelled_one_is_the_frame_a_fresh_render_gives(engine, sketch):
    first, second = make_request(sketch, seed=11), make_request(sketch, seed=12)
    fresh_first = engine.render(first)
    fresh_second = engine.render(second)
    for request, fresh in ((first, fresh_first), (second, fresh_second)):
        # cancelled in the middle of the UNet, then the same request again, then the other
        with pytest.raises(RenderCancelled):
            engine.render(first, should_cancel=CountingCheck(after=controlnet_points(engine) + 5))
        again = engine.render(request, should_cancel=CountingCheck())
        assert np.array_equal(again.image, fresh.image)
        assert torch.equal(again.latents, fresh.latents)


def test_the_hooks_are_disarmed_after_a_frame_whether_or_not_it_was_cancelled(engine, sketch):
    unet = engine.parts.unet
    call: list = []

    def capture(_module, args, kwargs):
        call.append((args, kwargs))

    handle = unet.register_forward_pre_hook(capture, with_kwargs=True)
    try:
        engine.render(make_request(sketch))
    finally:
        handle.remove()
    args, kwargs = call[0]

    with torch.inference_mode():
        with engine.cancel_points.armed(lambda: True), pytest.raises(RenderCancelled):
            unet(*args, **kwargs)  # armed, the direct call is stopped: the control
        would_cancel = CountingCheck(after=controlnet_points(engine) + 3)
        with pytest.raises(RenderCancelled):
            engine.render(make_request(sketch), should_cancel=would_cancel)
        asked = would_cancel.calls
        unet(*args, **kwargs)  # does not raise, though that check would still say yes
        assert would_cancel.calls == asked
        assert would_cancel()

        finished = CountingCheck()
        engine.render(make_request(sketch), should_cancel=finished)
        asked = finished.calls
        finished.after = 0  # from now on it says yes
        unet(*args, **kwargs)
        assert finished.calls == asked


# --- the worker -----------------------------------------------------------------------------


class SlowFrames:
    """A sleep before each residual block of the UNet (after its cancel check), and an event
    set when a frame's UNet starts; removed on exit."""

    def __init__(self, engine, block_s: float) -> None:
        self.started = threading.Event()
        self._handles = []
        unet = engine.parts.unet
        self._handles.append(unet.register_forward_pre_hook(lambda *_: self.started.set()))
        blocks = [m for m in unet.modules() if type(m).__name__ == "ResnetBlock2D"]
        assert blocks
        for block in blocks:
            self._handles.append(block.register_forward_pre_hook(lambda *_: time.sleep(block_s)))
        self.frame_s = block_s * len(blocks)

    def __enter__(self) -> SlowFrames:
        return self

    def __exit__(self, *_exc) -> None:
        for handle in self._handles:
            handle.remove()


class Rig:
    """A render worker serving the real tiny engine, with every outcome recorded by id."""

    def __init__(self, qtbot, engine) -> None:
        self.qtbot = qtbot
        self.worker = RenderWorker(loader=lambda model, device=None, progress=None: engine)
        self.results: list[int] = []
        self.cancelled: list[int] = []
        self.failed: list[tuple[int, str]] = []
        self.worker.result_ready.connect(lambda result: self.results.append(result.request_id))
        self.worker.cancelled.connect(self.cancelled.append)
        self.worker.failed.connect(lambda rid, msg: self.failed.append((rid, msg)))
        with qtbot.waitSignal(self.worker.model_loaded, timeout=5000):
            self.worker.load_model("tiny")

    def learn_frame_time(self, request: RenderRequest) -> None:
        """One whole frame, from which the worker learns how long a frame takes."""
        with self.qtbot.waitSignal(self.worker.result_ready, timeout=10000):
            self.worker.submit(request)
        assert request.size in self.worker._frame_s


@pytest.fixture
def rig(qtbot, engine):
    made: list[Rig] = []

    def make() -> Rig:
        made.append(Rig(qtbot, engine))
        return made[-1]

    yield make
    for rig_ in made:
        assert rig_.worker.stop(5000)


def test_a_settled_request_cancels_a_long_frame_in_flight(qtbot, rig, engine, sketch):
    r = rig()
    with SlowFrames(engine, block_s=0.08) as slow:
        assert slow.frame_s >= 4 * SUPERSEDE_MIN_REMAINING_S  # worth superseding early on
        r.learn_frame_time(make_request(sketch, seed=1, request_id=1))
        slow.started.clear()
        with recorded(unet=engine.parts.unet) as counts:
            r.worker.submit(make_request(sketch, seed=2, request_id=2), supersede=False)
            assert slow.started.wait(5)
            submitted = time.monotonic()
            with qtbot.waitSignal(r.worker.cancelled, timeout=5000) as cancelled:
                r.worker.submit(make_request(sketch, seed=3, request_id=3), supersede=True)
            waited = time.monotonic() - submitted
            qtbot.waitUntil(lambda: 3 in r.results, timeout=10000)
    assert cancelled.args == [2]
    assert r.cancelled == [2] and r.results == [1, 3] and r.failed == []
    assert counts["unet"] == [2, 1]  # the cancelled frame's UNet never finished
    assert waited < slow.frame_s  # it did not wait for the frame to end


def test_a_frame_in_motion_is_not_cancelled(qtbot, rig, engine, sketch):
    r = rig()
    with SlowFrames(engine, block_s=0.08) as slow:
        r.learn_frame_time(make_request(sketch, seed=1, request_id=1))
        slow.started.clear()
        with recorded(unet=engine.parts.unet) as counts:
            r.worker.submit(make_request(sketch, seed=2, request_id=2), supersede=True)
            assert slow.started.wait(5)
            r.worker.submit(make_request(sketch, seed=3, request_id=3), supersede=False)
            qtbot.waitUntil(lambda: 3 in r.results, timeout=10000)
    assert r.results == [1, 2, 3] and r.cancelled == [] and r.failed == []
    assert counts["unet"] == [2, 2]


def test_stopping_the_worker_ends_a_long_frame_within_a_block(qtbot, rig, engine, sketch):
    r = rig()
    with SlowFrames(engine, block_s=0.4) as slow:
        with recorded(unet=engine.parts.unet) as counts:
            r.worker.submit(make_request(sketch, seed=4, request_id=4))
            assert slow.started.wait(5)
            start = time.monotonic()
            assert r.worker.stop(5000)
            took = time.monotonic() - start
    assert took < slow.frame_s / 2  # the frame would have taken 8 blocks of 0.4 s
    assert counts["unet"] == [1, 0]
    qtbot.wait(50)
    assert r.results == [] and r.cancelled == [] and r.failed == []  # closing: no news


def test_a_settled_request_with_the_same_inputs_lets_the_frame_finish(qtbot, rig, engine, sketch):
    r = rig()
    with SlowFrames(engine, block_s=0.08) as slow:
        r.learn_frame_time(make_request(sketch, seed=1, request_id=1))
        slow.started.clear()
        r.worker.submit(make_request(sketch, seed=2, request_id=2), supersede=False)
        assert slow.started.wait(5)
        r.worker.submit(make_request(sketch, seed=2, request_id=3), supersede=True)
        qtbot.waitUntil(lambda: len(r.results) > 1, timeout=10000)
        qtbot.wait(int(slow.frame_s * 1500))  # time for any further frame to arrive
    assert r.cancelled == []
    assert r.results == [1, 2]  # finished, and the same inputs are not rendered again


class GiveUp(Exception):
    pass


def meta_layers(count: int) -> torch.nn.Module:
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        return torch.nn.Sequential(*(torch.nn.Linear(64, 64) for _ in range(count)))


def test_a_random_build_says_how_far_it_is_and_stops_where_its_progress_raises():
    # A random full-size model takes a minute to build on a CPU: the loader hears each new
    # percent, and a load given up for another model stops there (the worker's progress
    # callback raises), leaving the rest unbuilt.
    from desktop_app.engine.builders import fill_random

    heard: list[int] = []
    fill_random(meta_layers(10), torch.float32, percent_done=heard.append)
    assert heard == sorted(set(heard)) and heard[-1] == 100 and len(heard) >= 10

    def give_up_at_half(percent: int) -> None:
        if percent >= 50:
            raise GiveUp

    model = meta_layers(10)
    with pytest.raises(GiveUp):
        fill_random(model, torch.float32, percent_done=give_up_at_half)
    devices = [layer.weight.device.type for layer in model]
    assert devices[0] == "cpu" and devices[-1] == "meta"

"""The render worker and the controller's pacing: latest wins, errors, stale results, close."""

from __future__ import annotations

import threading
import time

import numpy as np
from doubles import FakeEngine, fake_loader

from desktop_app.app.worker import RenderWorker
from desktop_app.core.errors import ModelLoadError
from desktop_app.core.types import RenderRequest


def loaded(qtbot, controller):
    """Load the model and wait for the first frame (Live is on), then forget that frame."""
    with qtbot.waitSignal(controller.engine_loaded, timeout=5000):
        controller.load_model()
    qtbot.waitUntil(lambda: controller.current is not None, timeout=5000)
    controller.engine.rendered.clear()


def test_a_result_arrives(qtbot, rig):
    controller = rig()
    loaded(qtbot, controller)
    with qtbot.waitSignal(controller.result_shown, timeout=5000) as blocker:
        controller.generate()
    assert blocker.args[0].image.shape == (128, 128, 3)


def test_latest_wins_with_a_slow_engine(qtbot, rig):
    engine = FakeEngine(delay_s=0.05)
    controller = rig(engine)
    loaded(qtbot, controller)
    last_id = None
    for n in range(50):
        controller.state.seed = n  # every request differs
        last_id = controller.request_frame()
    qtbot.waitUntil(lambda: controller.current is not None
                    and controller.current.request_id == last_id, timeout=10000)
    assert len(engine.rendered) < 50
    assert engine.rendered[-1] == last_id
    assert controller.current.params.seed == 49


def test_a_stale_result_is_dropped(qtbot, rig):
    controller = rig()
    loaded(qtbot, controller)
    new = controller.build_request()
    old = controller.build_request()
    object.__setattr__(old, "request_id", new.request_id - 1)
    result_new = controller.engine.render(new)
    result_old = controller.engine.render(old)
    controller._on_result(result_new)
    controller._on_result(result_old)
    assert controller.current is result_new


def test_unchanged_inputs_are_not_rendered_again(qtbot, rig):
    engine = FakeEngine()
    controller = rig(engine)
    loaded(qtbot, controller)
    controller.request_frame()  # the same inputs as the first frame
    controller.sketch.draw()
    with qtbot.waitSignal(controller.result_shown, timeout=5000):
        controller.request_frame()
    controller.request_frame()
    controller.request_frame()
    qtbot.wait(100)
    controller.sketch.draw()
    with qtbot.waitSignal(controller.result_shown, timeout=5000):
        controller.request_frame()
    assert len(engine.rendered) == 2
    with qtbot.waitSignal(controller.result_shown, timeout=5000):
        controller.generate()  # the Generate button renders even when nothing changed
    assert len(engine.rendered) == 3


def test_a_failing_render_is_reported_and_the_next_one_renders(qtbot, rig):
    engine = FakeEngine()
    controller = rig(engine)
    loaded(qtbot, controller)
    engine.fail_next = 1
    controller.sketch.draw()
    with qtbot.waitSignal(controller.render_failed, timeout=5000) as failure:
        controller.request_frame()
    assert "ran out of memory" in failure.args[0]
    with qtbot.waitSignal(controller.result_shown, timeout=5000):
        controller.request_frame()  # same inputs: a failed frame is not "already rendered"
    assert len(engine.rendered) == 1


def test_stroke_frames_are_throttled_and_the_stroke_end_renders_at_once(qtbot, rig):
    engine = FakeEngine()
    controller = rig(engine)
    loaded(qtbot, controller)
    qtbot.wait(150)  # let the throttle from loading expire
    for _ in range(30):  # 30 canvas changes within one throttle interval
        controller.sketch.draw()
        controller.sketch_changed(True)
    assert engine.rendered == []
    controller.sketch.draw()
    with qtbot.waitSignal(controller.result_shown, timeout=5000):
        controller.sketch_changed(False)
    qtbot.wait(250)
    assert len(engine.rendered) == 1


def test_prompt_typing_is_debounced(qtbot, rig):
    engine = FakeEngine()
    controller = rig(engine)
    loaded(qtbot, controller)
    with qtbot.waitSignal(controller.result_shown, timeout=5000) as shown:
        for text in ("a", "a c", "a ca", "a cat"):
            controller.state.prompt = text
    assert shown.args[0].params.prompt == "a cat"
    assert len(engine.rendered) == 1


def test_a_load_failure_is_reported_and_nothing_renders(qtbot, rig):
    controller = rig(error=ModelLoadError("no such model 'nope'"))
    with qtbot.waitSignal(controller.engine_failed, timeout=5000) as failed:
        controller.load_model()
    assert failed.args[0] == "no such model 'nope'"
    assert controller.request_frame() is None


def test_the_worker_reports_a_frame_without_a_model(qtbot):
    worker = RenderWorker(fake_loader(error=ModelLoadError("broken")))
    try:
        with qtbot.waitSignal(worker.load_failed, timeout=5000):
            worker.load_model("x")
        request = RenderRequest(np.full((64, 64, 3), 255, np.uint8), size=128, request_id=7)
        with qtbot.waitSignal(worker.failed, timeout=5000) as failed:
            worker.submit(request)
        assert failed.args[0] == 7 and "broken" in failed.args[1]
    finally:
        assert worker.stop(2000)


def test_stop_during_a_render_finishes_within_two_seconds(qtbot, rig):
    engine = FakeEngine(delay_s=1.0)
    controller = rig(engine)
    loaded(qtbot, controller)
    controller.request_frame()
    assert engine.started.wait(5)
    start = time.monotonic()
    assert controller.shutdown(2000)
    assert time.monotonic() - start < 2.0
    assert not controller.worker.isRunning()


def test_stop_during_a_model_load_ends_the_load(qtbot):
    def slow_loader(model, device=None, progress=None):
        for _ in range(100):
            progress("still loading")
            time.sleep(0.05)
        return FakeEngine()

    worker = RenderWorker(slow_loader)
    with qtbot.waitSignal(worker.progress_changed, timeout=5000):
        worker.load_model("slow")
    start = time.monotonic()
    assert worker.stop(2000)
    assert time.monotonic() - start < 2.0


def test_jobs_run_in_the_worker_thread(qtbot, rig):
    controller = rig()
    loaded(qtbot, controller)
    worker = controller.worker
    with qtbot.waitSignal(worker.job_done, timeout=5000) as done:
        job_id = worker.submit_job(lambda engine: (engine.info.model, time.sleep(0)))
    assert done.args[0] == job_id and done.args[1][0] == "fake"
    with qtbot.waitSignal(worker.job_failed, timeout=5000) as failed:
        worker.submit_job(lambda engine: 1 / 0)
    assert "ZeroDivisionError" in failed.args[1]


def test_a_model_chosen_during_a_load_is_the_one_reported(qtbot):
    release = threading.Event()

    def loader(model, device=None, progress=None):
        if model == "first":
            release.wait(5)
        return FakeEngine(model=model)

    worker = RenderWorker(loader)
    loaded = []
    worker.model_loaded.connect(lambda info: loaded.append(info.model))
    worker.load_model("first")
    qtbot.wait(100)
    worker.load_model("second")
    release.set()
    qtbot.waitUntil(lambda: loaded == ["second"], timeout=5000)
    qtbot.wait(200)
    assert loaded == ["second"]
    assert worker.stop()

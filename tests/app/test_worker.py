"""The render worker and the controller's pacing: latest wins, errors, stale results, close."""

from __future__ import annotations

import threading
import time

import numpy as np
from doubles import FakeEngine, fake_loader
from PySide6.QtCore import QThread

from desktop_app.app.worker import MAX_SUPERSEDED_IN_ROW, RenderWorker
from desktop_app.core.errors import ModelLoadError
from desktop_app.core.types import RenderRequest


def loaded(qtbot, controller):
    """Load the model and wait for the first frame (Live is on), then forget that frame."""
    with qtbot.waitSignal(controller.gate.engine_loaded, timeout=5000):
        controller.load_model()
    qtbot.waitUntil(lambda: controller.frames.current is not None, timeout=5000)
    controller.engine.rendered.clear()


def test_a_result_arrives(qtbot, rig):
    controller = rig()
    loaded(qtbot, controller)
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000) as blocker:
        controller.frames.generate()
    assert blocker.args[0].image.shape == (128, 128, 3)


def test_latest_wins_with_a_slow_engine(qtbot, rig):
    engine = FakeEngine(delay_s=0.05)
    controller = rig(engine)
    loaded(qtbot, controller)
    last_id = None
    for n in range(50):
        controller.state.seed = n  # every request differs
        last_id = controller.frames.request_frame()
    qtbot.waitUntil(lambda: controller.frames.current is not None
                    and controller.frames.current.request_id == last_id, timeout=10000)
    assert len(engine.rendered) < 50
    assert engine.rendered[-1] == last_id
    assert controller.frames.current.params.seed == 49


def test_a_stale_result_is_dropped(qtbot, rig):
    controller = rig()
    loaded(qtbot, controller)
    new, _ = controller.frames.build_request()
    old, _ = controller.frames.build_request()
    object.__setattr__(old, "request_id", new.request_id - 1)
    result_new = controller.engine.render(new)
    result_old = controller.engine.render(old)
    controller.frames._on_result(result_new)
    controller.frames._on_result(result_old)
    assert controller.frames.current is result_new


def test_unchanged_inputs_are_not_rendered_again(qtbot, rig):
    engine = FakeEngine()
    controller = rig(engine)
    loaded(qtbot, controller)
    controller.frames.request_frame()  # the same inputs as the first frame
    controller.sketch.draw()
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000):
        controller.frames.request_frame()
    controller.frames.request_frame()
    controller.frames.request_frame()
    qtbot.wait(100)
    controller.sketch.draw()
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000):
        controller.frames.request_frame()
    assert len(engine.rendered) == 2
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000):
        controller.frames.generate()  # the Generate button renders even when nothing changed
    assert len(engine.rendered) == 3


def test_a_failing_render_is_reported_and_the_next_one_renders(qtbot, rig):
    engine = FakeEngine()
    controller = rig(engine)
    loaded(qtbot, controller)
    engine.fail_next = 1
    controller.sketch.draw()
    with qtbot.waitSignal(controller.frames.render_failed, timeout=5000) as failure:
        controller.frames.request_frame()
    assert "ran out of memory" in failure.args[0]
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000):
        controller.frames.request_frame()  # same inputs: a failed frame is not "already rendered"
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
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000):
        controller.sketch_changed(False)
    qtbot.wait(250)
    assert len(engine.rendered) == 1


def test_prompt_typing_is_debounced(qtbot, rig):
    engine = FakeEngine()
    controller = rig(engine)
    loaded(qtbot, controller)
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000) as shown:
        for text in ("a", "a c", "a ca", "a cat"):
            controller.state.prompt = text
    assert shown.args[0].params.prompt == "a cat"
    assert len(engine.rendered) == 1


def test_a_load_failure_is_reported_and_nothing_renders(qtbot, rig):
    controller = rig(error=ModelLoadError("no such model 'nope'"))
    with qtbot.waitSignal(controller.gate.engine_failed, timeout=5000) as failed:
        controller.load_model()
    assert failed.args[0] == "no such model 'nope'"
    assert controller.frames.request_frame() is None


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


def test_closing_during_a_long_render_cancels_it_without_waiting_for_it(qtbot, rig):
    engine = FakeEngine(delay_s=30.0)  # far longer than the test may take: only a cancel ends it
    controller = rig(engine)
    with qtbot.waitSignal(controller.gate.engine_loaded, timeout=5000):
        controller.load_model()
    assert engine.started.wait(5)
    start = time.monotonic()
    with qtbot.waitSignal(controller.closed, timeout=3000) as closed:
        controller.close()  # returns at once; ``closed`` comes when the worker has ended
    assert closed.args == [True]
    assert time.monotonic() - start < 2.0
    assert len(engine.cancelled) == 1 and engine.rendered == []
    assert not controller.worker.isRunning()


def test_a_settled_request_supersedes_a_long_frame_and_a_stroke_frame_does_not(qtbot, rig):
    engine = FakeEngine(delay_s=0.05)
    controller = rig(engine)
    loaded(qtbot, controller)  # one frame done: the worker now expects frames of ~50 ms
    engine.delay_s = 30.0  # ...but the next one would take far longer
    engine.started.clear()
    controller.sketch.draw()
    first = controller.frames.request_frame(supersede=False)  # a stroke's throttled frame
    assert engine.started.wait(5)
    controller.worker._frame_s = {128: 30.0}  # what it would have learnt from slow frames
    controller.sketch.draw()
    controller.frames.request_frame(supersede=False)  # in motion: the first frame goes on
    qtbot.wait(300)
    assert engine.cancelled == []
    engine.delay_s = 0.0
    controller.sketch.draw()
    with qtbot.waitSignal(controller.worker.cancelled, timeout=3000) as cancelled:
        last = controller.frames.request_frame()  # the stroke ended: settled
    assert cancelled.args == [first]
    qtbot.waitUntil(lambda: controller.frames.current.request_id == last, timeout=5000)
    assert first not in engine.rendered


def test_after_two_frames_given_up_in_a_row_the_third_is_finished(qtbot, rig):
    # Someone drawing fast on a slow device: every frame in flight is overtaken by a
    # settled request. Two are given up; the third is shown before the next starts.
    engine = FakeEngine(delay_s=0.05)
    controller = rig(engine)
    loaded(qtbot, controller)
    engine.delay_s = 1.0
    controller.worker._frame_s = {128: 30.0}  # learnt from slow frames: all worth cancelling
    cancelled: list[int] = []
    controller.worker.cancelled.connect(cancelled.append)
    asked = []
    given_up = MAX_SUPERSEDED_IN_ROW
    for _ in range(given_up + 2):
        engine.started.clear()
        controller.sketch.draw()
        asked.append(controller.frames.request_frame())
        assert engine.started.wait(5)
    qtbot.waitUntil(lambda: len(engine.rendered) == 2, timeout=10_000)
    assert cancelled == asked[:given_up] and engine.rendered == asked[given_up:]
    assert controller.frames.current.request_id == asked[-1]


def test_a_nearly_done_frame_is_finished_not_superseded(qtbot, rig):
    engine = FakeEngine(delay_s=0.05)
    controller = rig(engine)
    loaded(qtbot, controller)
    engine.delay_s = 0.5
    engine.started.clear()
    controller.sketch.draw()
    first = controller.frames.request_frame()
    assert engine.started.wait(5)
    controller.worker._frame_s = {128: 0.05}  # to end any moment: not worth cancelling
    controller.sketch.draw()
    last = controller.frames.request_frame()
    qtbot.waitUntil(lambda: controller.frames.current is not None
                    and controller.frames.current.request_id == last, timeout=5000)
    assert engine.cancelled == [] and engine.rendered == [first, last]


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


class RecordingJob:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.thread = None

    def run(self, engine, should_cancel):
        self.thread = QThread.currentThread()
        if self.fail:
            return 1 / 0
        return engine.info.model


class Outcomes:
    """The callbacks of one submitted job: what each heard, and on which thread."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, object]] = []
        self.threads: list[QThread] = []

    def done(self, value) -> None:
        self.heard.append(("done", value))
        self.threads.append(QThread.currentThread())

    def failed(self, message: str) -> None:
        self.heard.append(("failed", message))
        self.threads.append(QThread.currentThread())


def test_jobs_run_in_the_worker_thread_and_each_tells_only_its_own_callbacks(qtbot, rig):
    controller = rig()
    loaded(qtbot, controller)
    worker = controller.worker
    job, failing = RecordingJob(), RecordingJob(fail=True)
    ok, bad = Outcomes(), Outcomes()
    worker.submit_job(job, ok.done, ok.failed)
    worker.submit_job(failing, bad.done, bad.failed)
    qtbot.waitUntil(lambda: bool(ok.heard and bad.heard), timeout=5000)
    qtbot.wait(50)
    assert ok.heard == [("done", "fake")]
    assert len(bad.heard) == 1 and bad.heard[0][0] == "failed"
    assert "ZeroDivisionError" in bad.heard[0][1]
    assert job.thread is worker and job.thread is not QThread.currentThread()
    # The callbacks run on the UI thread, where the window may touch widgets.
    assert ok.threads == bad.threads == [QThread.currentThread()]


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


def test_a_smaller_frame_in_motion_is_not_cancelled_for_the_full_size(qtbot, rig):
    engine = FakeEngine(delay_s=0.05)
    controller = rig(engine)
    loaded(qtbot, controller)
    controller.worker._frame_s = {256: 30.0, 512: 30.0}  # both slow: both worth cancelling
    engine.delay_s = 0.5
    engine.started.clear()
    controller.sketch.draw()
    controller.state.size = 256
    smaller = controller.frames.request_frame(supersede=False)  # a frame in motion
    assert engine.started.wait(5)
    controller.state.size = 512
    controller.sketch.draw()
    full = controller.frames.request_frame()  # the stroke ended: settled, full size
    qtbot.waitUntil(lambda: controller.frames.current.request_id == full, timeout=10_000)
    assert engine.cancelled == [] and engine.rendered[-2:] == [smaller, full]


class SlowLoads:
    """A loader whose model ``slow`` takes 30 s (far longer than a test may take: only a
    cancel ends it early), telling its progress every 10 ms as the real loader tells its
    own; other models load at once. It notes how each load ended."""

    def __init__(self, engine: FakeEngine | None = None) -> None:
        self.engine = engine
        self.started = threading.Event()
        self.ended: list[tuple[str, str]] = []  # (model, "loaded" or "stopped")

    def __call__(self, model, device=None, progress=None):
        if model == "slow":
            self.started.set()
            try:
                for _ in range(3000):
                    progress("building slow")
                    time.sleep(0.01)
            except BaseException:
                self.ended.append((model, "stopped"))
                raise
        self.ended.append((model, "loaded"))
        if model == "slow" and self.engine is not None:
            return self.engine
        return FakeEngine(model=model)


def test_a_model_chosen_during_a_slow_load_stops_that_load(qtbot):
    loads = SlowLoads()
    worker = RenderWorker(loads)
    news = []
    worker.model_loaded.connect(lambda info: news.append(info.model))
    worker.load_failed.connect(news.append)
    try:
        worker.load_model("slow")
        assert loads.started.wait(5)
        with qtbot.waitSignal(worker.model_loaded, timeout=5000):
            worker.load_model("second")
        assert loads.ended == [("slow", "stopped"), ("second", "loaded")]
        qtbot.wait(100)
        assert news == ["second"]
        request = RenderRequest(np.full((64, 64, 3), 255, np.uint8), size=128, request_id=3)
        with qtbot.waitSignal(worker.result_ready, timeout=5000) as shown:
            worker.submit(request)
        assert shown.args[0].params.model == "second"
    finally:
        assert worker.stop(2000)


def test_a_model_chosen_during_a_slow_frame_cancels_that_frame(qtbot):
    old = FakeEngine(delay_s=30.0, model="first")  # only a cancel ends its frame in time

    def loader(model, device=None, progress=None):
        return old if model == "first" else FakeEngine(model=model)

    worker = RenderWorker(loader)
    try:
        with qtbot.waitSignal(worker.model_loaded, timeout=5000):
            worker.load_model("first")
        request = RenderRequest(np.full((64, 64, 3), 255, np.uint8), size=128, request_id=5)
        worker.submit(request)
        assert old.started.wait(5)
        with qtbot.waitSignal(worker.model_loaded, timeout=5000) as loaded_news:
            worker.load_model("second")
        assert loaded_news.args[0].model == "second"
        assert old.cancelled == [5] and old.rendered == []
    finally:
        assert worker.stop(2000)


def test_a_model_chosen_before_its_cache_check_stops_the_load_in_progress(qtbot):
    # A preset is checked in the model cache (a job) before it loads: the choice itself,
    # not its load, stops the old model's load, and nothing is said of the old model.
    loads = SlowLoads()
    worker = RenderWorker(loads)
    news = []
    worker.model_loaded.connect(lambda info: news.append(info.model))
    worker.load_failed.connect(news.append)
    job = RecordingJob()
    try:
        worker.load_model("slow")
        assert loads.started.wait(5)
        worker.model_chosen()
        outcome = Outcomes()
        worker.submit_job(job, outcome.done, outcome.failed)
        qtbot.waitUntil(lambda: bool(outcome.heard), timeout=5000)
        assert loads.ended == [("slow", "stopped")]
        qtbot.wait(100)
        assert news == []
    finally:
        assert worker.stop(2000)


def test_a_skipped_duplicate_request_is_not_awaited_from_a_server(qtbot, tmp_path, monkeypatch):
    # The worker skips a request equal to the last frame it rendered (that picture is on
    # screen): the "no picture for 4 s" notice must not follow it.
    from desktop_app.app import server_link
    from desktop_app.app.controller import Controller
    from desktop_app.app.state import LiveState
    from desktop_app.remote.address import server_model

    monkeypatch.setattr(server_link, "SLOW_AFTER_MS", 200)
    engine = FakeEngine()
    state = LiveState()
    state.preset = server_model("http://127.0.0.1:9")
    state.size = 128
    worker = RenderWorker(fake_loader(engine))  # stands for the server's engine
    sketch = np.full((128, 128, 3), 255, np.uint8)
    controller = Controller(state, worker, sketch_source=sketch.copy, data_dir=tmp_path)
    notices = []
    controller.server.changed.connect(lambda kind, text: notices.append(kind))
    skipped = []
    worker.skipped.connect(skipped.append)
    try:
        assert controller.server.active
        with qtbot.waitSignal(controller.gate.engine_loaded, timeout=5000):
            controller.load_model()
        qtbot.waitUntil(lambda: controller.frames.current is not None, timeout=5000)
        duplicate = controller.frames.request_frame()  # nothing changed since that frame
        qtbot.wait(600)  # three times the notice's delay
        assert skipped == [duplicate] and len(engine.rendered) == 1
        assert notices == []
        # A request that does render still gets the notice when its picture is late.
        engine.delay_s = 1.0
        sketch[5:9] = 0
        with qtbot.waitSignal(controller.server.changed, timeout=3000) as notice:
            controller.frames.request_frame()
        assert notice.args[0] == "slow"
    finally:
        assert worker.stop(3000)

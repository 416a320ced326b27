"""The render worker: one QThread that loads the model and then serves frames.

Follows the Qt for Python Mandelbrot ``RenderThread`` pattern: a QMutex guards the pending
work, a QWaitCondition parks the thread when there is none, and an abort flag ends it. At most
one render is in flight; a new request replaces the pending one (latest wins), and a settled
request (a stroke's end, a new prompt) also cancels the frame in flight when that frame would
still take long (see ``SUPERSEDE_MIN_REMAINING_S``). A new model choice gives up the load or
the frame in progress at once: the loader's progress and the frame's cancel points ask whether
the model they work for is still the chosen one. The UI thread only ever takes the mutex for
a few assignments; it never waits on a render.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QMutex, QMutexLocker, QObject, QThread, QWaitCondition, Signal

from desktop_app.app.jobs import Job
from desktop_app.core.errors import RenderCancelled, ServerUnavailableError, user_message
from desktop_app.core.log import log_error
from desktop_app.core.types import FrameEngine, RenderRequest

JobT = TypeVar("JobT", bound=Job)
Loader = Callable[..., Any]  # (model, device=None, progress=None, **options) -> FrameEngine

# A newer settled request cancels the frame in flight only when that frame is expected to
# need at least this much longer: finishing a nearly done frame shows a picture sooner than
# starting over, and a GPU frame (tens of ms) is always nearly done. Measured in
# docs/PERFORMANCE.md ("Cancelling a frame").
SUPERSEDE_MIN_REMAINING_S = 0.15
# Someone who keeps drawing on a slow device ends a stroke more often than a frame takes:
# superseding every time would show nothing until they stop. After this many frames in a row
# given up for newer ones, the next one is finished, so a picture comes at least every few
# frame times (benchmarks/long_session.py --model tiny: 46 frames in 10,000 fast strokes
# without this rule).
MAX_SUPERSEDED_IN_ROW = 2
_FRAME_TIME_WEIGHT = 0.3  # of the newest frame in the running estimate


@dataclasses.dataclass(frozen=True)
class Submitted:
    """A job and whom to tell when it has ended (called on the UI thread)."""

    job: Job
    on_done: Callable[[Any], None]
    on_failed: Callable[[str], None]


class _Aborted(RenderCancelled):
    """Raised from the progress callback to end a model load when the worker is stopping or
    another model was chosen; also from a frame's own preparing (an OpenVINO model converting
    a new frame size tells the load's listener), where it ends the frame as cancelled."""


class RenderWorker(QThread):
    model_loaded = Signal(object)  # EngineInfo
    load_failed = Signal(str)
    result_ready = Signal(object)  # FrameResult
    failed = Signal(int, str)  # request_id, message
    cancelled = Signal(int)  # request_id of a frame given up for a newer one
    # request_id of a request not rendered: the same inputs as the last frame rendered, whose
    # picture is already out (whoever waits for a picture stops waiting).
    skipped = Signal(int)
    progress_changed = Signal(str)
    # A frame or a load failed because the server that renders them cannot be reached (as
    # well as ``failed`` / ``load_failed``): worth trying again in a while.
    unavailable = Signal(str)
    # LoRA styles a frame asked for could not be used: (message, the styles still in use).
    styles_failed = Signal(str, object)
    # A job has ended, in the worker thread: (its Submitted, its value or None, the failure
    # or None); delivered to the UI thread, where the job's own callback is called.
    _job_ended = Signal(object, object, object)

    def __init__(self, loader: Loader | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if loader is None:
            from desktop_app.app import engine_api

            loader = engine_api.load_engine
        self._loader = loader
        # Queued: the worker object lives in the UI thread, so its slot runs there.
        self._job_ended.connect(self._deliver)
        self._mutex = QMutex()
        self._condition = QWaitCondition()
        self._abort = False
        self._drop_jobs = False  # the user gave up on queued work: the job running stops too
        self._pending_load: tuple[str, str | None, dict[str, Any]] | None = None
        self._pending: tuple[RenderRequest, bool, bool] | None = None
        self._jobs: deque[Submitted] = deque()
        # Model choices so far, and the one whose model the worker loads or renders with now:
        # when they differ, the load or frame in progress is of no more use.
        self._choice = 0
        self._working_for = 0
        # Touched only from the worker thread:
        self._engine: FrameEngine | None = None
        self._styles: tuple = ()  # the LoRA styles the engine has fused
        self._load_error = "no model is loaded yet"
        self._last: RenderRequest | None = None
        self._in_flight: RenderRequest | None = None
        # The pending entry last judged by _should_cancel, and whether it would render the
        # frame in flight again (compared once per entry: the check runs hundreds of times).
        self._judged: tuple[object, bool] = (None, False)
        self._frame_started = 0.0
        # Running estimates of one frame's time, per size (frames in motion may be smaller).
        self._frame_s: dict[int, float] = {}
        self._superseded_in_row = 0  # frames given up for newer ones since one was shown
        self.rendered_count = 0  # frames actually rendered (for benchmarks)

    # --- called from the UI thread -------------------------------------------------------
    def load_model(self, model: str, device: str | None = None, **options: Any) -> None:
        """Load ``model`` next; ``options`` go to the loader as they are (a server's token
        file, captured here on the UI thread)."""
        with QMutexLocker(self._mutex):
            self._pending_load = (model, device, options)
            self._choice += 1
            self._start_or_wake()

    def model_chosen(self) -> None:
        """Another model was chosen and will be loaded after a check (its cache): the load or
        the frame in progress stops now rather than finish for a model no longer wanted."""
        with QMutexLocker(self._mutex):
            self._choice += 1

    def submit(self, request: RenderRequest, force: bool = False, supersede: bool = False) -> None:
        """Queue ``request``, replacing any request not yet started. With ``supersede`` it
        may also cancel the frame in flight (a settled change, not a stroke in progress:
        cancelling every throttled stroke frame would show nothing until the stroke ends)."""
        with QMutexLocker(self._mutex):
            self._pending = (request, force, supersede)
            self._start_or_wake()

    def submit_job(
        self,
        job: JobT,
        on_done: Callable[[Any], None],
        on_failed: Callable[[str], None],
    ) -> JobT:
        """Run ``job.run(engine, should_cancel)`` in the worker thread, before any pending
        frame; then, on the UI thread, ``on_done(value)`` or ``on_failed(message)`` (the
        message is "cancelled" when the user gave up on queued work). A job dropped before it
        ran (``request_stop(keep_jobs=False)``) hears nothing."""
        with QMutexLocker(self._mutex):
            self._jobs.append(Submitted(job, on_done, on_failed))
            self._start_or_wake()
        return job

    def request_stop(self, keep_jobs: bool = True) -> None:
        """Ask the thread to end without waiting: the frame in flight is cancelled within one
        model block, and queued jobs (an export asked for before quitting) still run unless
        ``keep_jobs`` is False, which drops them and cancels the one running (an export's
        decode stops within a block; its file is then not written). ``finished`` is emitted
        when the thread has ended."""
        with QMutexLocker(self._mutex):
            self._abort = True
            self._pending = None
            self._pending_load = None
            if not keep_jobs:
                self._jobs.clear()
                self._drop_jobs = True
            self._condition.wakeOne()

    def stop(self, timeout_ms: int = 2000) -> bool:
        """``request_stop``, then wait at most ``timeout_ms``; True when the thread has ended.
        Blocks the calling thread: for tests and command-line tools, not for the window."""
        self.request_stop()
        if not self.isRunning():
            return True
        return self.wait(timeout_ms)

    def _start_or_wake(self) -> None:  # mutex held
        if self._abort:
            return
        if not self.isRunning():
            self.start(QThread.Priority.LowPriority)
        else:
            self._condition.wakeOne()

    # --- the worker thread ---------------------------------------------------------------
    def run(self) -> None:
        while True:
            self._mutex.lock()
            try:
                while not (self._abort or self._pending_load or self._jobs or self._pending):
                    self._condition.wait(self._mutex)
                if self._abort and not self._jobs:
                    return
                load, job, pending = None, None, None
                self._working_for = self._choice
                if self._pending_load is not None:
                    load, self._pending_load = self._pending_load, None
                elif self._jobs:
                    job = self._jobs.popleft()
                else:
                    pending, self._pending = self._pending, None
            finally:
                self._mutex.unlock()
            if load is not None:
                self._load(*load)
            elif job is not None:
                self._run_job(job)
            elif pending is not None:
                self._render(*pending[:2])

    def _given_up(self) -> bool:
        """The worker stops, or another model was chosen since this turn of the loop began
        (two attribute reads: asked before every model block of a frame)."""
        return self._abort or self._choice != self._working_for

    def _progress(self, message: str) -> None:
        if self._given_up():
            raise _Aborted
        self.progress_changed.emit(message)

    def _load(self, model: str, device: str | None, options: dict[str, Any]) -> None:
        close = getattr(self._engine, "close", None)  # a server connection
        if close is not None:
            close()
        self._engine = None  # free the old model's memory before loading the next one
        # Compiled forwards refer back to their modules, so the old model is a reference
        # cycle that only the collector frees; collect now, not after the new one has loaded.
        gc.collect()
        self._last = None
        self._styles = ()  # a new model starts without styles
        self._frame_s = {}
        self._superseded_in_row = 0
        self.progress_changed.emit(f"Loading {model}…")
        try:
            engine = self._loader(model, device=device, progress=self._progress, **options)
        except _Aborted:
            return
        except Exception as err:  # noqa: BLE001 - every failure is shown, the thread lives on
            log_error(err, f"loading {model}")
            self._load_error = f"the model did not load: {user_message(err)}"
            if not self._given_up():
                self._say_if_unavailable(err)
                self.load_failed.emit(user_message(err))
            return
        # A model chosen meanwhile: this one's news would be stale, and it is dropped (the
        # next turn of the loop loads the newer choice).
        if not self._given_up():
            self._engine = engine
            self.model_loaded.emit(engine.info)

    def _should_cancel(self) -> bool:
        """Asked by the engine before every model block: read without the mutex (attribute
        reads, atomic under the GIL) because it is asked hundreds of times a frame."""
        if self._given_up():
            return True
        pending = self._pending
        in_flight = self._in_flight
        if pending is None or not pending[2] or in_flight is None:
            return False
        expected = self._frame_s.get(in_flight.size)
        if expected is None or in_flight.size < pending[0].size:
            # A smaller frame in motion is short by design, and shows the stroke nearly done:
            # cancelling it for the full size would show nothing sooner.
            return False
        if self._superseded_in_row >= MAX_SUPERSEDED_IN_ROW:
            return False
        if self._judged[0] is not pending:
            # The same inputs again (a stroke's end after the pen paused): finishing the
            # frame in flight gives that very picture, and the pending request is skipped.
            same = not pending[1] and pending[0].same_inputs(self._in_flight)
            self._judged = (pending, same)
        if self._judged[1]:
            return False
        remaining = expected - (time.monotonic() - self._frame_started)
        return remaining >= SUPERSEDE_MIN_REMAINING_S

    def _render(self, request: RenderRequest, force: bool) -> None:
        if not force and request.same_inputs(self._last):
            self.skipped.emit(request.request_id)
            return
        if self._engine is None:
            self.failed.emit(request.request_id, self._load_error)
            return
        request = self._with_styles(request)
        self._frame_started = time.monotonic()
        self._in_flight = request
        try:
            result = self._engine.render(request, should_cancel=self._should_cancel)
        except RenderCancelled:
            self._last = None
            if not self._abort:
                self._superseded_in_row += 1
                self.cancelled.emit(request.request_id)
            return
        except Exception as err:  # noqa: BLE001 - reported; the worker keeps serving
            log_error(err, "rendering a frame")
            self._last = None
            if not self._abort:
                self._say_if_unavailable(err)
                self.failed.emit(request.request_id, user_message(err))
            return
        took = time.monotonic() - self._frame_started
        w = _FRAME_TIME_WEIGHT
        size, old = request.size, self._frame_s.get(request.size)
        self._frame_s[size] = took if old is None else (1 - w) * old + w * took
        self._last = request
        self._superseded_in_row = 0
        self.rendered_count += 1
        if not self._abort:
            self.result_ready.emit(result)

    def _with_styles(self, request: RenderRequest) -> RenderRequest:
        """Fuse the styles the frame asks for before it starts (seconds, and not the frame's
        time); if they cannot be used, the frame renders with those still in use."""
        if request.loras == self._styles:
            return request
        self.progress_changed.emit("Applying styles…")
        try:
            # A compiled model is warmed up again: the window says it is optimising.
            assert self._engine is not None  # frames render only once a model has loaded
            self._engine.set_loras(request.loras, progress=self.progress_changed.emit)
            self._styles = request.loras
        except Exception as err:  # noqa: BLE001 - reported; the model keeps its styles
            log_error(err, f"applying the styles {request.loras}")
            self.styles_failed.emit(user_message(err), self._styles)
            return dataclasses.replace(request, loras=self._styles)
        finally:
            self.progress_changed.emit("")
        return request

    def _say_if_unavailable(self, err: Exception) -> None:
        if isinstance(err, ServerUnavailableError):
            self.unavailable.emit(user_message(err))

    def _jobs_dropped(self) -> bool:
        return self._drop_jobs

    def _run_job(self, submitted: Submitted) -> None:
        try:
            value = submitted.job.run(self._engine, self._jobs_dropped)
        except RenderCancelled:
            self._job_ended.emit(submitted, None, "cancelled")
            return
        except Exception as err:  # noqa: BLE001 - reported to whoever asked
            log_error(err, f"the job {type(submitted.job).__name__}")
            self._job_ended.emit(submitted, None, user_message(err))
            return
        self._job_ended.emit(submitted, value, None)

    def _deliver(self, submitted: Submitted, value: Any, failure: str | None) -> None:
        """On the UI thread: the job's own callback."""
        if failure is None:
            submitted.on_done(value)
        else:
            submitted.on_failed(failure)

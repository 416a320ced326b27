"""The render worker: one QThread that loads the model and then serves frames.

Follows the Qt for Python Mandelbrot ``RenderThread`` pattern: a QMutex guards the pending
work, a QWaitCondition parks the thread when there is none, and an abort flag ends it. At most
one render is in flight; a new request replaces the pending one (latest wins). The UI thread
only ever takes the mutex for a few assignments; it never waits on a render.
"""

from __future__ import annotations

import gc
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QMutex, QMutexLocker, QObject, QThread, QWaitCondition, Signal

from desktop_app.engine.errors import LiveCanvasError
from desktop_app.engine.types import RenderRequest

Loader = Callable[..., Any]  # (model, device=None, progress=None) -> Engine
Job = Callable[[Any], Any]  # (engine or None) -> result, run in the worker thread


class _Aborted(Exception):
    """Raised from the progress callback to end a model load when the worker is stopping."""


def user_message(err: BaseException) -> str:
    if isinstance(err, LiveCanvasError):
        return str(err)
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


class RenderWorker(QThread):
    model_loaded = Signal(object)  # EngineInfo
    load_failed = Signal(str)
    result_ready = Signal(object)  # FrameResult
    failed = Signal(int, str)  # request_id, message
    progress_changed = Signal(str)
    job_done = Signal(int, object)  # job id, value
    job_failed = Signal(int, str)  # job id, message

    def __init__(self, loader: Loader | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if loader is None:
            from desktop_app.app import engine_api

            loader = engine_api.load_engine
        self._loader = loader
        self._mutex = QMutex()
        self._condition = QWaitCondition()
        self._abort = False
        self._pending_load: tuple[str, str | None] | None = None
        self._pending: tuple[RenderRequest, bool] | None = None
        self._jobs: deque[tuple[int, Job]] = deque()
        self._job_ids = itertools.count(1)
        # Touched only from the worker thread:
        self._engine: Any = None
        self._load_error = "no model is loaded yet"
        self._last: RenderRequest | None = None
        self.rendered_count = 0  # frames actually rendered (for benchmarks)

    # --- called from the UI thread -------------------------------------------------------
    def load_model(self, model: str, device: str | None = None) -> None:
        with QMutexLocker(self._mutex):
            self._pending_load = (model, device)
            self._start_or_wake()

    def submit(self, request: RenderRequest, force: bool = False) -> None:
        """Queue ``request``, replacing any request not yet started."""
        with QMutexLocker(self._mutex):
            self._pending = (request, force)
            self._start_or_wake()

    def submit_job(self, job: Job) -> int:
        """Run ``job(engine)`` in the worker thread (before any pending frame); returns its id."""
        with QMutexLocker(self._mutex):
            job_id = next(self._job_ids)
            self._jobs.append((job_id, job))
            self._start_or_wake()
        return job_id

    def stop(self, timeout_ms: int = 2000) -> bool:
        """Ask the thread to end and wait at most ``timeout_ms``; True when it has ended."""
        with QMutexLocker(self._mutex):
            self._abort = True
            self._pending = None
            self._pending_load = None
            # Queued jobs (an export asked for just before quitting) still run: the render in
            # flight is cancelled, the jobs are short, and a picture the user saved is kept.
            self._condition.wakeOne()
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
                self._run_job(*job)
            elif pending is not None:
                self._render(*pending)

    def _is_aborting(self) -> bool:
        return self._abort

    def _progress(self, message: str) -> None:
        if self._abort:
            raise _Aborted
        self.progress_changed.emit(message)

    def _load(self, model: str, device: str | None) -> None:
        self._engine = None  # free the old model's memory before loading the next one
        # Compiled forwards refer back to their modules, so the old model is a reference
        # cycle that only the collector frees; collect now, not after the new one has loaded.
        gc.collect()
        self._last = None
        self.progress_changed.emit(f"Loading {model}…")
        try:
            engine = self._loader(model, device=device, progress=self._progress)
        except _Aborted:
            return
        except Exception as err:  # noqa: BLE001 - every failure is shown, the thread lives on
            self._load_error = f"the model did not load: {user_message(err)}"
            if not (self._abort or self._superseded()):
                self.load_failed.emit(user_message(err))
            return
        self._engine = engine
        if not (self._abort or self._superseded()):
            self.model_loaded.emit(engine.info)

    def _superseded(self) -> bool:
        """Another model was chosen while this one loaded: its news would be stale, and the
        next turn of the loop loads the newer choice."""
        with QMutexLocker(self._mutex):
            return self._pending_load is not None

    def _render(self, request: RenderRequest, force: bool) -> None:
        if not force and request.same_inputs(self._last):
            return
        if self._engine is None:
            self.failed.emit(request.request_id, self._load_error)
            return
        try:
            result = self._engine.render(request, should_cancel=self._is_aborting)
        except Exception as err:  # noqa: BLE001 - reported; the worker keeps serving
            self._last = None
            if not self._abort:
                self.failed.emit(request.request_id, user_message(err))
            return
        self._last = request
        self.rendered_count += 1
        if not self._abort:
            self.result_ready.emit(result)

    def _run_job(self, job_id: int, job: Job) -> None:
        try:
            value = job(self._engine)
        except Exception as err:  # noqa: BLE001 - reported to whoever asked
            if not self._abort:
                self.job_failed.emit(job_id, user_message(err))
            return
        if not self._abort:
            self.job_done.emit(job_id, value)

"""The controller: turns state and sketch changes into requests, and results into the view.

It owns the pacing (stroke throttle ~100 ms, prompt debounce ~150 ms), drops results older
than the newest shown, keeps the filmstrip history, runs exports and line-art conversion as
worker jobs (model work never runs on the UI thread), and autosaves the session.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from desktop_app.app import download_worker, engine_api, files
from desktop_app.app.history import History
from desktop_app.app.state import LiveState
from desktop_app.app.worker import RenderWorker
from desktop_app.core.errors import LiveCanvasError
from desktop_app.core.types import EngineInfo, FrameResult, RenderRequest

STROKE_INTERVAL_MS = 100
PROMPT_DEBOUNCE_MS = 150
AUTOSAVE_DELAY_MS = 3000
HISTORY_SETTLE_MS = 700
KEPT_SKETCHES = 40  # sketches of shown results, for exporting one beside its picture

SESSION_KEYS = ("prompt", "mode", "control_scale", "strength", "seed", "seed_locked", "steps")


def cpu_note(info: EngineInfo) -> str | None:
    """What to expect on a CPU-only machine, so a slow first frame does not look broken.
    (Measured on a 2-core CPU: SDXL at 512 about 30 s a frame in float32; the status bar
    shows this machine's own latency once a frame is done.)"""
    if info.device != "cpu":
        return None
    return (
        f"Running on the CPU ({info.dtype}): full-size models take from seconds to tens of "
        "seconds a frame here; a CUDA GPU renders in well under a second."
    )


class Controller(QObject):
    status_changed = Signal(str)  # model progress / state, for the status bar
    engine_loaded = Signal(object)  # EngineInfo
    engine_failed = Signal(str)  # why the model did not load
    download_needed = Signal(object)  # CacheCheck: the chosen preset is not fully downloaded
    result_shown = Signal(object)  # FrameResult now on screen
    render_failed = Signal(str)
    stats_changed = Signal(float, float)  # last frame latency (ms), frames per second
    export_finished = Signal(str)  # path written
    export_failed = Signal(str)
    lineart_ready = Signal(object)  # np.ndarray, RGB lines on white
    lineart_failed = Signal(str)

    def __init__(
        self,
        state: LiveState,
        worker: RenderWorker,
        *,
        sketch_source: Callable[[], np.ndarray] | None = None,
        data_dir: Path | None = None,
        export_dir: Path | None = None,
        device: str | None = None,
        history_settle_ms: int = HISTORY_SETTLE_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.worker = worker
        self.sketch_source = sketch_source
        self.device = device
        self.export_dir = export_dir
        self.save_sketch_with_export = False
        self.autosave = files.Autosave(data_dir) if data_dir is not None else None
        self.history = History(parent=self)
        self.engine_info: EngineInfo | None = None
        self.load_error: str | None = None
        self.current: FrameResult | None = None
        self._settling: FrameResult | None = None
        self._sent_sketches: dict[int, np.ndarray] = {}
        self._result_sketches: OrderedDict[int, np.ndarray] = OrderedDict()
        self._next_id = 0
        self._shown_id = -1
        self._in_stroke = False
        self._arrivals: deque[float] = deque(maxlen=12)
        self._jobs: dict[int, tuple[str, Any]] = {}
        self._model_requested = False
        self._cache_job: int | None = None
        self.variant: str | None = None  # weights to look for; None: what the loader picks

        self._throttle = self._timer(STROKE_INTERVAL_MS, self.request_frame)
        self._debounce = self._timer(PROMPT_DEBOUNCE_MS, self.request_frame)
        self._autosave_timer = self._timer(AUTOSAVE_DELAY_MS, lambda: self.autosave_now(wait=False))
        self._autosave_pool = QThreadPool(self)
        self._autosave_pool.setMaxThreadCount(1)
        self._settle = self._timer(history_settle_ms, self._settle_history)

        worker.model_loaded.connect(self._on_model_loaded)
        worker.load_failed.connect(self._on_load_failed)
        worker.result_ready.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.progress_changed.connect(self.status_changed)
        worker.job_done.connect(self._on_job_done)
        worker.job_failed.connect(self._on_job_failed)
        state.prompt_changed.connect(self._on_prompt_changed)
        state.changed.connect(self._on_state_changed)

    def _timer(self, interval: int, slot: Callable[[], None]) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(interval)
        timer.timeout.connect(slot)
        return timer

    # --- model -----------------------------------------------------------------------------
    def load_model(self, model: str | None = None, check_cache: bool = True) -> None:
        """Load ``model``; a preset missing from the cache asks for a download instead."""
        model = model or self.state.preset
        self.engine_info = None
        self.load_error = None
        self._cache_job = None
        if check_cache and download_worker.downloadable(model):
            # Which weights count needs torch, so the check runs in the worker, not here.
            self._model_requested = False
            self.status_changed.emit(f"Checking {model} in the model cache…")
            variant, device = self.variant, self.device
            self._cache_job = self.worker.submit_job(
                lambda _engine: download_worker.check_cache(model, variant, device)
            )
            self._jobs[self._cache_job] = ("cache", model)
            return
        self.status_changed.emit(f"Loading {model}…")
        self._model_requested = True
        self.worker.load_model(model, self.device)
        if self.state.live:
            self.request_frame()  # rendered as soon as the model is there

    def _on_model_loaded(self, info: EngineInfo) -> None:
        self.engine_info = info
        self.load_error = None
        self.status_changed.emit(f"Ready: {info.describe()}")
        self.engine_loaded.emit(info)

    def _on_load_failed(self, message: str) -> None:
        self.load_error = message
        self.status_changed.emit("No model loaded")
        self.engine_failed.emit(message)

    # --- requests --------------------------------------------------------------------------
    def sketch_changed(self, in_stroke: bool) -> None:
        """The canvas changed; during a stroke frames go out at most every ~100 ms."""
        self._autosave_timer.start()
        if not self.state.live:
            return
        if in_stroke:
            if not self._throttle.isActive():
                self._throttle.start()
        else:
            self._throttle.stop()
            self.request_frame()

    def _on_prompt_changed(self, _prompt: str) -> None:
        if self.state.live:
            self._debounce.start()

    def _on_state_changed(self, name: str) -> None:
        self._autosave_timer.start()
        if name == "preset":
            self.load_model(self.state.preset)
        elif name == "live" and self.state.live:
            self.request_frame()
        elif name not in ("prompt", "seed_locked", "live") and self.state.live:
            if not self._throttle.isActive():
                self._throttle.start()

    def build_request(self) -> RenderRequest | None:
        if self.sketch_source is None:
            return None
        state = self.state
        self._next_id += 1
        return RenderRequest(
            sketch=self.sketch_source(),
            prompt=state.prompt,
            mode=state.mode,
            control_scale=float(state.control_scale),
            strength=float(state.strength),
            seed=int(state.seed),
            steps=int(state.steps),
            size=int(state.size),
            request_id=self._next_id,
        )

    def request_frame(self, force: bool = False) -> int | None:
        """Send the current inputs to the worker; returns the request id."""
        self._throttle.stop()
        self._debounce.stop()
        if not self._model_requested or self.load_error is not None:
            return None  # nothing can render: the window works as a sketch tool
        try:
            request = self.build_request()
        except LiveCanvasError as err:
            self.render_failed.emit(str(err))
            return None
        if request is None:
            return None
        self.worker.submit(request, force=force)
        self._sent_sketches[request.request_id] = request.sketch
        if len(self._sent_sketches) > KEPT_SKETCHES:  # no result for a while (model failing)
            del self._sent_sketches[min(self._sent_sketches)]
        return request.request_id

    def generate(self) -> int | None:
        """The Generate button: render now, even when the inputs did not change."""
        return self.request_frame(force=True)

    # --- results ---------------------------------------------------------------------------
    def _on_result(self, result: FrameResult) -> None:
        if result.request_id <= self._shown_id:
            return  # older than what is on screen
        self._shown_id = result.request_id
        self._settling = result
        self._keep_sketch(result.request_id)
        self.show_result(result)
        self._arrivals.append(time.monotonic())
        fps = 0.0
        if len(self._arrivals) > 1:
            span = self._arrivals[-1] - self._arrivals[0]
            fps = (len(self._arrivals) - 1) / span if span > 0 else 0.0
        self.stats_changed.emit(float(result.timings.total_ms), fps)
        self._settle.start()

    def show_result(self, result: FrameResult) -> None:
        self.current = result
        self.result_shown.emit(result)

    def _settle_history(self) -> None:
        # The newest rendered frame, even if a thumbnail is on screen meanwhile.
        if self._settling is not None:
            self.history.add(self._settling)
            self._settling = None

    def _on_failed(self, request_id: int, message: str) -> None:
        if self.load_error is not None:
            return  # the load failure is already on screen; it explains this one
        if request_id >= self._shown_id:
            self.render_failed.emit(message)

    def restore_entry(self, entry_id: int) -> None:
        """Put a filmstrip entry's prompt, seed (unless locked) and settings back."""
        entry = self.history.find(entry_id)
        if entry is None:
            return
        params = entry.result.params
        values: dict[str, Any] = {
            "prompt": params.prompt,
            "mode": params.mode,
            "control_scale": params.control_scale,
            "steps": params.steps,
        }
        if params.strength is not None:
            values["strength"] = params.strength
        if not self.state.seed_locked:
            values["seed"] = params.seed
        self.state.apply(values)
        self.show_result(entry.result)

    # --- worker jobs: export and line art ---------------------------------------------------
    def export(self, result: FrameResult | None = None) -> int | None:
        """Export ``result`` (default: the one on screen) at full quality, in the worker."""
        result = result or self.current
        if result is None:
            self.export_failed.emit("There is no generated image to export yet.")
            return None
        directory = self.export_folder()
        sketch = None
        if self.save_sketch_with_export:
            # The sketch that made this picture, not the canvas as it is now.
            sketch = self._result_sketches.get(result.request_id)
            if sketch is None and self.sketch_source is not None:
                sketch = self.sketch_source()

        def job(engine: Any) -> str:
            # A picture from before a model switch is decoded by neither model's VAE: its
            # latents belong to the old one, so it is exported as it was shown.
            same_model = engine is not None and result.params.model == engine.info.model
            image = engine.export_image(result) if same_model else result.image
            files.ensure_dir(directory)
            path = files.export_path(directory, result.params.seed)
            engine_api.save_png(path, image, result.params)
            if sketch is not None:
                files.save_image(files.sketch_path(path), sketch)
            return str(path)

        job_id = self.worker.submit_job(job)
        self._jobs[job_id] = ("export", None)
        return job_id

    def export_folder(self) -> Path:
        if self.export_dir:
            return Path(self.export_dir)
        from desktop_app.app.settings import default_export_dir

        return default_export_dir()

    def _keep_sketch(self, request_id: int) -> None:
        """Move the sketch of a shown result from the in-flight table to the kept ones."""
        for rid in [r for r in self._sent_sketches if r <= request_id]:
            sketch = self._sent_sketches.pop(rid)
            if rid == request_id:
                self._result_sketches[rid] = sketch
        while len(self._result_sketches) > KEPT_SKETCHES:
            self._result_sketches.popitem(last=False)

    def import_lineart(self, photo: np.ndarray) -> int:
        job_id = self.worker.submit_job(lambda _engine: engine_api.lineart_from_photo(photo))
        self._jobs[job_id] = ("lineart", None)
        return job_id

    def _on_cache_checked(self, job_id: int, check: Any) -> None:
        if job_id != self._cache_job:
            return  # another model was chosen meanwhile
        if check.complete:
            self.load_model(check.preset, check_cache=False)
            return
        self.load_error = f"{check.preset} is not downloaded"
        self.status_changed.emit(f"{check.preset} is not downloaded yet")
        self.download_needed.emit(check)

    def _on_job_done(self, job_id: int, value: Any) -> None:
        kind, _ = self._jobs.pop(job_id, (None, None))
        if kind == "cache":
            self._on_cache_checked(job_id, value)
        elif kind == "export":
            self.export_finished.emit(value)
        elif kind == "lineart":
            self.lineart_ready.emit(value)

    def _on_job_failed(self, job_id: int, message: str) -> None:
        kind, model = self._jobs.pop(job_id, (None, None))
        if kind == "cache" and job_id == self._cache_job:
            self.load_model(model, check_cache=False)  # the loader explains what is wrong
        elif kind == "export":
            self.export_failed.emit(f"Export failed: {message}")
        elif kind == "lineart":
            self.lineart_failed.emit(f"Line-art conversion failed: {message}")

    # --- autosave --------------------------------------------------------------------------
    def session(self) -> dict[str, Any]:
        snapshot = self.state.snapshot()
        return {key: snapshot[key] for key in SESSION_KEYS}

    def autosave_now(self, wait: bool = True) -> None:
        """Save the sketch and session; with ``wait=False`` (the timer) the PNG encoding and
        the fsync run on a background thread, so an autosave never stalls a stroke."""
        self._autosave_timer.stop()
        if self.autosave is None:
            return
        sketch = self.sketch_source() if self.sketch_source is not None else None
        session = self.session()
        if wait:
            self._autosave_pool.waitForDone()
            self._write_autosave(sketch, session)
        else:
            # One thread, so saves land in the order they were taken.
            self._autosave_pool.start(lambda: self._write_autosave(sketch, session))

    def _write_autosave(self, sketch: np.ndarray | None, session: dict[str, Any]) -> None:
        try:
            self.autosave.save(sketch, session)
        except LiveCanvasError as err:
            self.status_changed.emit(f"Autosave failed: {err}")

    def restore_session(self) -> np.ndarray | None:
        """Apply the autosaved prompt and settings; returns the autosaved sketch, if any."""
        if self.autosave is None:
            return None
        sketch, session = self.autosave.load()
        self.state.apply({k: v for k, v in session.items() if k in SESSION_KEYS})
        for timer in (self._autosave_timer, self._throttle, self._debounce):
            timer.stop()
        return sketch

    def shutdown(self, timeout_ms: int = 2000, export_timeout_ms: int = 120_000) -> bool:
        """Autosave, then stop the worker; True when its thread ended in time. An export the
        user asked for still finishes first (the full-quality decode can take a while on a
        CPU): quitting must not silently drop a picture they chose to keep."""
        for timer in (self._throttle, self._debounce, self._settle):
            timer.stop()
        self.autosave_now()
        exporting = any(kind == "export" for kind, _ in self._jobs.values())
        if exporting:
            self.status_changed.emit("Finishing the export before closing…")
        return self.worker.stop(export_timeout_ms if exporting else timeout_ms)

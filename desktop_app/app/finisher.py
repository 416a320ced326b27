"""Finish: the picture on screen taken to full quality (upscaled, refined by the model in a
few image-to-image steps, decoded by the full VAE) in the render worker, one at a time.

The picture finished is exactly the one shown: its pixels, its seed and settings (its
``GenerationParams`` become the finished picture's first pass) and the sketch that made it.
While it runs, live frames are paused (the canvas still takes strokes; the latest drawing
is rendered when it ends, however it ends). A finished picture is shown and kept in the
filmstrip; it exports as it is. Cancelling (Esc) or running out of memory leaves the
picture that was shown.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from desktop_app.app.drawing_file import styles_here
from desktop_app.app.frame_pacer import FramePacer
from desktop_app.app.history import History
from desktop_app.app.jobs import FinishJob
from desktop_app.app.model_gate import ModelGate
from desktop_app.app.state import LiveState
from desktop_app.app.worker import RenderWorker
from desktop_app.core.errors import LiveCanvasError
from desktop_app.core.types import FinishProgress, FinishRequest, FrameResult
from desktop_app.models.presets import finish_defaults


class Finisher(QObject):
    started = Signal(object)  # FinishRequest
    progressed = Signal(object)  # FinishProgress
    done = Signal(object)  # the finished FrameResult, now on screen
    failed = Signal(str)  # one line: it ran and failed (out of memory); the picture stays
    refused = Signal(str)  # one line: it could not start (no picture, the model loading)
    cancelled = Signal()  # the user cancelled it; the picture stays
    # From the worker thread (queued to this one): (the job's number, its FinishProgress).
    _progress_from_worker = Signal(int, object)

    def __init__(
        self,
        state: LiveState,
        worker: RenderWorker,
        frames: FramePacer,
        gate: ModelGate,
        history: History,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state, self.worker, self.frames = state, worker, frames
        self.gate, self.history = gate, history
        self._job: FinishJob | None = None
        self._numbers = itertools.count(1)
        self._number = 0  # the running job's, so a late progress report of an old one is left
        self._progress_from_worker.connect(self._on_progress)
        state.changed.connect(self._on_state_changed)

    @property
    def running(self) -> bool:
        return self._job is not None

    def finish(self, scale: float | None = None) -> FinishJob | None:
        """Finish the picture on screen at ``scale`` (default: the remembered one); None, with
        ``refused`` said, when it cannot start."""
        current = self.frames.current
        reason = self._refusal(current)
        if reason is not None or current is None:
            self.refused.emit(reason or "There is no picture to finish yet.")
            return None
        try:
            request = self._request(current, scale)
        except LiveCanvasError as err:
            self.refused.emit(f"The picture cannot be finished: {err}")
            return None
        number = self._number = next(self._numbers)
        job = self._job = FinishJob(
            request, lambda progress: self._progress_from_worker.emit(number, progress)
        )
        self.frames.pause()
        self.worker.submit_job(
            job,
            on_done=lambda result: self._on_done(job, current, result),
            on_failed=lambda message: self._on_failed(job, message),
        )
        self.started.emit(request)
        return job

    def cancel(self) -> None:
        """Stop the finish in progress (within one model block); the picture stays."""
        if self._job is not None:
            self._job.cancel.set()

    def _refusal(self, current: FrameResult | None) -> str | None:
        if self._job is not None:
            return "A picture is being finished already (Esc cancels it)."
        if self.gate.load_error is not None:
            return f"Finish needs a model, and none is loaded: {self.gate.load_error}"
        if self.gate.engine_info is None:
            return "The model is still loading: Finish when it is ready."
        if current is None:
            return "There is no picture to finish yet: draw something first."
        if current.params.hires_upscale is not None:
            return "This picture is finished already: draw on for a new one to finish."
        return None

    def _request(self, current: FrameResult, scale: float | None) -> FinishRequest:
        """The picture shown, with what made it: its own sketch when still kept (else the
        canvas as it is), its prompt, seed, scale and LoRA styles (their files found again
        by name, as a filmstrip entry's are)."""
        params = current.params
        drawing = self.frames.drawing_of(current)
        if drawing is None and self.frames.drawing_source is not None:
            drawing = self.frames.drawing_source()
        if drawing is None:
            raise LiveCanvasError("its sketch is not known")
        known = tuple(path for path, _ in self.state.loras)
        loras, _missing = styles_here(tuple((n, w) for n, w, _ in params.loras), known)
        steps, strength = finish_defaults(self.state.preset)
        return FinishRequest(
            picture=current.image,
            sketch=drawing.lines(),
            prompt=params.prompt,
            seed=params.seed,
            control_scale=params.control_scale,
            loras=loras,
            scale=float(self.state.finish_scale if scale is None else scale),
            steps=steps,
            strength=strength,
            first_pass=params,
            request_id=current.request_id,
        )

    def _on_progress(self, number: int, progress: FinishProgress) -> None:
        if number == self._number and self._job is not None:
            self.progressed.emit(progress)

    def _on_done(self, job: FinishJob, source: FrameResult, result: FrameResult) -> None:
        if job is not self._job:
            return
        self._job = None
        if job.cancel.is_set():  # it ended before it heard: the user's word stands
            self.frames.resume()
            self.cancelled.emit()
            return
        # The finished picture keeps its first pass's request id: the drawing kept for that
        # one is the drawing an export of this one carries.
        result = replace(result, request_id=source.request_id)
        self.history.add(result)
        self.frames.show_result(result)
        self.frames.resume()
        self.done.emit(result)

    def _on_failed(self, job: FinishJob, message: str) -> None:
        if job is not self._job:
            return
        self._job = None
        self.frames.resume()
        if job.cancel.is_set() or message == "cancelled":
            self.cancelled.emit()
        else:
            # The worker has logged the failure with its traceback.
            self.failed.emit(f"Finishing failed: {message}. The picture is as it was.")

    def _on_state_changed(self, name: str) -> None:
        if name == "preset":  # another model: this one's finish is of no more use
            self.cancel()


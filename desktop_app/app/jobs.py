"""Work that runs in the render worker besides frames, one class per kind.

The worker runs ``job.run(engine, should_cancel)`` in its thread, then calls the callbacks
given with the job (``RenderWorker.submit_job``) on the UI thread: its value to whoever asked
for that very job, no one else. ``should_cancel`` turns True when the user gives up on queued
work (closing with "Quit without waiting"); a long job passes it to the engine.
Everything a job needs is captured when it is made, on the UI thread, so nothing it reads can
change while it runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from desktop_app.app import engine_api, files
from desktop_app.app.drawing import Drawing
from desktop_app.app.drawing_file import drawing_chunks
from desktop_app.core.errors import ModelLoadError, RenderCancelled
from desktop_app.core.metadata import save_png
from desktop_app.core.types import FinishProgress, FinishRequest, FrameEngine, FrameResult


class Job(Protocol):
    def run(self, engine: FrameEngine | None, should_cancel: Callable[[], bool]) -> Any: ...


@dataclass(frozen=True, eq=False)
class CacheCheckJob:
    """Is a preset fully downloaded? (Which weights count needs torch, so not on the UI.)"""

    model: str
    variant: str | None
    device: str | None

    def run(self, engine: FrameEngine | None, should_cancel: Callable[[], bool]) -> Any:
        from desktop_app.app import download_worker

        return download_worker.check_cache(self.model, self.variant, self.device)


@dataclass(frozen=True, eq=False)
class ExportJob:
    """A picture at full quality into ``directory``, with the sketch beside it if given, and
    the drawing that made it inside it (so that it opens again to keep working)."""

    result: FrameResult
    directory: Path
    sketch: np.ndarray | None = None
    drawing: Drawing | None = None

    def run(self, engine: FrameEngine | None, should_cancel: Callable[[], bool]) -> str:
        result = self.result
        # Latents fit only the VAE of the load that made them; a picture from before a model
        # switch (or a reload) is exported as it was shown, as is a composed one (region
        # frames: no latents make the whole of it) and a finished one (decoded by the full
        # VAE already).
        as_shown = result.params.composed or result.params.hires_upscale is not None
        if engine is not None and result.load_id == engine.info.load_id and not as_shown:
            image = engine.export_image(result, should_cancel)
        else:
            image = result.image
        files.ensure_dir(self.directory)
        path = files.export_path(self.directory, result.params.seed)
        text, chunks = drawing_chunks(self.drawing, result.params) if self.drawing else ({}, [])
        save_png(path, image, result.params, text, chunks)
        if self.sketch is not None:
            files.save_image(files.sketch_path(path), self.sketch)
        return str(path)


@dataclass(frozen=True, eq=False)
class LineArtJob:
    """A photo turned into line art for the canvas."""

    photo: np.ndarray

    def run(self, engine: FrameEngine | None, should_cancel: Callable[[], bool]) -> np.ndarray:
        return engine_api.lineart_from_photo(self.photo)


@dataclass(frozen=True, eq=False)
class ReferenceLinesJob:
    """The line art of the reference image of ``version`` (it joins the strokes as lines)."""

    photo: np.ndarray
    version: int

    def run(self, engine: FrameEngine | None, should_cancel: Callable[[], bool]) -> np.ndarray:
        return engine_api.lineart_from_photo(self.photo)


@dataclass(frozen=True, eq=False)
class FinishJob:
    """Finish (see ``FinishRequest``): the picture shown, upscaled and refined by the model.
    ``progress`` is called in the worker thread as it goes; ``cancel`` is the user's (Esc),
    asked as often as the engine asks whether to stop, as is the worker's own."""

    request: FinishRequest
    progress: Callable[[FinishProgress], None]
    cancel: threading.Event = field(default_factory=threading.Event)

    def run(self, engine: FrameEngine | None, should_cancel: Callable[[], bool]) -> FrameResult:
        def stop() -> bool:
            return self.cancel.is_set() or should_cancel()

        if stop():  # cancelled while it waited for the frame in flight
            raise RenderCancelled("the finish was cancelled")
        if engine is None:
            raise ModelLoadError("no model is loaded")
        return engine.finish(self.request, self.progress, stop)

"""Exports: a shown picture at full quality, as a PNG with its parameters, in the worker.

Where exports go and whether the sketch is saved beside them are settings in the state
(``export_dir``, ``save_sketch``), kept between runs like every other setting.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal, SignalInstance

from desktop_app.app.frame_pacer import FramePacer
from desktop_app.app.jobs import ExportJob
from desktop_app.app.state import LiveState
from desktop_app.app.worker import RenderWorker
from desktop_app.core.types import FrameResult


def default_export_dir() -> Path:
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(pictures or Path.home()) / "Live Canvas"


class Exporter(QObject):
    export_finished = Signal(str)  # path written
    export_failed = Signal(str)
    idle = Signal()  # the last export asked for has ended, written or failed

    def __init__(
        self,
        state: LiveState,
        worker: RenderWorker,
        frames: FramePacer,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.worker = worker
        self.frames = frames
        self._in_flight: set[ExportJob] = set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def folder(self) -> Path:
        return Path(self.state.export_dir) if self.state.export_dir else default_export_dir()

    def export(self, result: FrameResult | None = None) -> ExportJob | None:
        """Export ``result`` (default: the one on screen) at full quality, in the worker."""
        result = result or self.frames.current
        if result is None:
            self.export_failed.emit("There is no generated image to export yet.")
            return None
        sketch = None
        if self.state.save_sketch:
            # The sketch that made this picture, not the canvas as it is now.
            sketch = self.frames.sketch_of(result)
            if sketch is None and self.frames.sketch_source is not None:
                sketch = self.frames.sketch_source()
        job = ExportJob(result, self.folder(), sketch, self.frames.drawing_of(result))
        self._in_flight.add(job)
        self.worker.submit_job(
            job,
            on_done=lambda path: self._ended(job, self.export_finished, path),
            on_failed=lambda message: self._ended(
                job, self.export_failed, f"Export failed: {message}"
            ),
        )
        return job

    def _ended(self, job: ExportJob, news: SignalInstance, text: str) -> None:
        self._in_flight.discard(job)
        news.emit(text)
        if not self._in_flight:
            self.idle.emit()

"""Runs a timelapse export on a thread of its own, with progress and cancel.

Not in the render worker: a long film would hold up the frames for minutes. One export at a
time; it reads the spool while the recorder may go on appending (it stops at the last whole
record, see ``spool``).
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from desktop_app.app.timelapse.export import TimelapseOptions, export_timelapse
from desktop_app.core.errors import LiveCanvasError, RenderCancelled
from desktop_app.core.log import log_error


class _ExportRun(QRunnable):
    def __init__(self, exporter: TimelapseExporter, path: Path, options: TimelapseOptions):
        super().__init__()
        self.exporter, self.path, self.options = exporter, path, options

    def run(self) -> None:
        self.exporter._run(self.path, self.options)


class TimelapseExporter(QObject):
    progress = Signal(int, int)  # frames written, frames in the film
    finished = Signal(object)  # ExportReport
    failed = Signal(str)  # one line
    cancelled = Signal()
    _done = Signal(object, str)  # from the export thread: the report or None, a failure or ""

    def __init__(self, directory: Path | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.directory = directory
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._cancel = threading.Event()
        self._running = False  # UI thread only
        self._done.connect(self._on_done)

    @property
    def busy(self) -> bool:
        return self._running

    def export(self, path: Path, options: TimelapseOptions) -> bool:
        """Start writing ``path``; False (and nothing done) while another export runs."""
        if self._running:
            return False
        if self.directory is None:
            self.failed.emit("There is no timelapse: this window keeps no data folder.")
            return False
        self._running = True
        self._cancel.clear()
        self._pool.start(_ExportRun(self, Path(path), options))
        return True

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self) -> None:
        self._pool.waitForDone()

    def _run(self, path: Path, options: TimelapseOptions) -> None:
        """The export thread: every outcome goes back as one signal (queued to the UI)."""
        assert self.directory is not None  # export() starts none without one
        try:
            report = export_timelapse(
                self.directory, path, options, self._cancel.is_set, self._report_progress
            )
        except RenderCancelled:
            self._emit(self._done, None, "")
        except LiveCanvasError as err:
            log_error(err, "exporting the timelapse")
            self._emit(self._done, None, f"Timelapse export failed: {err}")
        except Exception as err:  # noqa: BLE001 - a bug or a library's surprise: one line
            log_error(err, "exporting the timelapse")
            first = (str(err).splitlines() or [""])[0]
            self._emit(self._done, None, f"Timelapse export failed: {type(err).__name__} {first}")
        else:
            self._emit(self._done, report, "")

    def _report_progress(self, done: int, total: int) -> None:
        if done == total or done % max(1, total // 200) == 0:  # a bar moves by half percents
            self._emit(self.progress, done, total)

    @staticmethod
    def _emit(signal, *args) -> None:
        with contextlib.suppress(RuntimeError):  # the window was destroyed meanwhile
            signal.emit(*args)

    def _on_done(self, report: object, failure: str) -> None:
        self._running = False
        if report is not None:
            self.finished.emit(report)
        elif failure:
            self.failed.emit(failure)
        else:
            self.cancelled.emit()

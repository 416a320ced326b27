"""The controller: puts the app's roles together and closes them down in order.

Each role is its own object: ``gate`` (which model, can frames render), ``frames`` (pacing,
latest wins, what is on screen), ``exports``, ``session`` (the autosave), ``server`` (a render
server's comings and goings), ``history`` (the filmstrip) and ``filmstrip`` (which keeps it
between runs). The controller wires them to
the state and the canvas, converts photos to line art, and runs the close: nothing in it ever
waits on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.app.drawing import Drawing
from desktop_app.app.drawing_file import settings_of, styles_here
from desktop_app.app.exporter import Exporter
from desktop_app.app.filmstrip_store import FilmstripKeeper
from desktop_app.app.finisher import Finisher
from desktop_app.app.frame_pacer import HISTORY_SETTLE_MS, FramePacer
from desktop_app.app.history import History
from desktop_app.app.jobs import LineArtJob, ReferenceLinesJob
from desktop_app.app.model_gate import ModelGate
from desktop_app.app.selection import Selection
from desktop_app.app.server_link import ServerLink
from desktop_app.app.session import SessionKeeper
from desktop_app.app.state import LiveState
from desktop_app.app.timelapse.exporter import TimelapseExporter
from desktop_app.app.timelapse.recorder import TimelapseRecorder
from desktop_app.app.worker import RenderWorker
from desktop_app.core.types import EngineInfo

CLOSE_DEADLINE_MS = 5000  # without an export: the frame in flight stops within one block
EXPORT_CLOSE_DEADLINE_MS = 600_000  # a queued export on a slow CPU; the user can cancel
# After "Quit without waiting": the export's decode stops at its next block (one full-size
# VAE block is up to ~2 s on a small CPU); past this, only the last resort is left.
ABANDON_DEADLINE_MS = 5000


def cpu_note(info: EngineInfo) -> str | None:
    """What to expect on a CPU-only machine, so a slow first frame does not look broken.
    (Measured on a 2-core CPU: SDXL at 512 about 30 s a frame in float32; the status bar
    shows this machine's own latency once a frame is done.)"""
    if info.device.startswith("openvino:"):  # its warnings: e.g. a cache it cannot write
        where = info.device.split(":", 1)[1]
        return " ".join((f"Running on OpenVINO ({where}, {info.dtype}).", *info.warnings))
    if info.device != "cpu":
        return None
    return (
        f"Running on the CPU ({info.dtype}): full-size models take from seconds to tens of "
        "seconds a frame here; a CUDA GPU renders in well under a second."
    )


class Controller(QObject):
    lineart_ready = Signal(object)  # np.ndarray, RGB lines on white
    lineart_failed = Signal(str)
    reference_lines_ready = Signal(object, int)  # line art of the reference of that version
    closing_progress = Signal(str)  # what the close is waiting for (an export)
    closed = Signal(bool)  # the close is done; False when the deadline ran out first
    styles_failed = Signal(str)  # LoRA styles that could not be used (the setting reverted)

    def __init__(
        self,
        state: LiveState,
        worker: RenderWorker,
        *,
        sketch_source: Callable[[], np.ndarray] | None = None,
        data_dir: Path | None = None,
        device: str | None = None,
        history_settle_ms: int = HISTORY_SETTLE_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.worker = worker
        self.history = History(parent=self)
        self.gate = ModelGate(state, worker, device, parent=self)
        self.frames = FramePacer(state, worker, self.gate, self.history, history_settle_ms, self)
        self.exports = Exporter(state, worker, self.frames, parent=self)
        self.finishes = Finisher(state, worker, self.frames, self.gate, self.history, self)
        self.session = SessionKeeper(state, data_dir, parent=self)
        filmstrip_dir = data_dir / "filmstrip" if data_dir is not None else None
        self.filmstrip = FilmstripKeeper(self.history, filmstrip_dir, parent=self)
        self.server = ServerLink(state, worker, self.gate, self.frames, parent=self)
        # The session timelapse, spooled beside the autosave (None: no data folder, no film).
        timelapse_dir = data_dir / "timelapse" if data_dir is not None else None
        self.timelapse = TimelapseRecorder(state, self.frames, timelapse_dir, parent=self)
        self.timelapse_exports = TimelapseExporter(timelapse_dir, parent=self)
        self.sketch_source = sketch_source
        self._closing = self._closed = False
        self.restore_notices: tuple[str, ...] = ()
        self.restored_reference: np.ndarray | None = None
        self.restored_selection: Selection | None = None
        self.regions = self.frames.regions  # the selection and the locked picture
        self.regions.selection_changed.connect(self.session.save_soon_now)
        self.session.selection_source = lambda: (
            self.regions.selection.to_stored() if self.regions.selection else None
        )
        self._close_deadline = QTimer(self, singleShot=True)
        self._close_deadline.timeout.connect(lambda: self._finish_close(False))
        self.gate.engine_loaded.connect(self._on_engine_loaded)
        state.changed.connect(self._on_state_changed)
        worker.finished.connect(self._on_worker_finished)
        worker.styles_failed.connect(self._on_styles_failed)
        worker.progress_changed.connect(self._say_progress)
        self.session.saved.connect(self._maybe_closed)
        self.timelapse.idle.connect(self._maybe_closed)
        self.filmstrip.writer.idle.connect(self._maybe_closed)

    @property
    def sketch_source(self) -> Callable[[], np.ndarray] | None:
        return self.frames.sketch_source

    @sketch_source.setter
    def sketch_source(self, source: Callable[[], np.ndarray] | None) -> None:
        self.frames.sketch_source = source
        self.session.sketch_source = source

    def use_canvas(
        self,
        strokes: Callable[[], np.ndarray],
        drawing: Callable[[], Drawing],
        reference: Callable[[], tuple[int, np.ndarray | None]],
    ) -> None:
        """Where the drawing is read: the strokes (autosaved), the whole drawing (frames),
        and the reference image with its version (autosaved when it changes)."""
        self.session.sketch_source = strokes
        self.session.reference_source = reference
        self.frames.drawing_source = drawing

    def find_reference_lines(self, photo: np.ndarray, version: int) -> None:
        self.worker.submit_job(
            ReferenceLinesJob(photo, version),
            on_done=lambda lines: self.reference_lines_ready.emit(lines, version),
            on_failed=lambda message: self.lineart_failed.emit(
                f"Converting the reference's lines failed: {message}"
            ),
        )

    def load_model(self, model: str | None = None, check_cache: bool = True) -> None:
        self.gate.load(model, check_cache)

    def _on_styles_failed(self, message: str, in_use: tuple) -> None:
        # The list shows the styles the pictures really have; the message says why.
        self.state.loras = tuple(in_use)
        self.styles_failed.emit(message)

    def _on_engine_loaded(self, _info: EngineInfo) -> None:
        if self.state.live:
            self.frames.request_frame()

    def _on_state_changed(self, name: str) -> None:
        if name == "preset":
            self.gate.preset_chosen = True
            self.load_model(self.state.preset)

    def sketch_changed(self, in_stroke: bool) -> None:
        """The canvas changed (``in_stroke``: a stroke is still being drawn)."""
        self.frames.sketch_changed(in_stroke)
        self.session.sketch_changed(in_stroke)

    def restore_session(self) -> np.ndarray | None:
        """Apply the autosaved settings; returns the autosaved sketch. What had to be dropped
        is in ``self.restore_notices`` for the window to say once."""
        restored = self.session.restore()
        self.restore_notices = (restored.notices if restored else ()) + self.filmstrip.restore()
        self.restored_reference = restored.reference if restored else None
        self.restored_selection = restored.selection if restored else None
        self.frames.stop()
        return restored.sketch if restored else None

    def restore_entry(self, entry_id: int) -> None:
        """Put a filmstrip entry's prompt, seed (unless locked) and settings back."""
        entry = self.history.find(entry_id)
        if entry is None:
            return
        values = settings_of(entry.result.params)
        del values["size"]  # a preference, not the picture's: the next frames keep theirs
        if self.state.seed_locked:
            del values["seed"]
        # Its LoRA styles' files: those in use or in a prompt style, else the styles folder.
        known = (*self.state.loras, *(x for s in self.frames.styles.all() for x in s.loras))
        values["loras"], _missing = styles_here(values["loras"], tuple(p for p, _ in known))
        self.state.apply(values)
        self.frames.show_result(entry.result)

    # --- line art --------------------------------------------------------------------------
    def import_lineart(self, photo: np.ndarray) -> LineArtJob:
        return self.worker.submit_job(
            LineArtJob(photo),
            on_done=self.lineart_ready.emit,
            on_failed=lambda message: self.lineart_failed.emit(
                f"Converting line art failed: {message}"
            ),
        )

    # --- closing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Begin closing without waiting: the frame in flight is cancelled, a queued export
        still finishes (``closing_progress`` says so), and the autosave is written on its
        thread. ``closed`` is emitted when all of that is done, or at the deadline."""
        if self._closing:
            return
        self._closing = True
        self.frames.stop()
        self.finishes.cancel()  # a finish is not worth waiting for, as an export is
        self.session.save_soon_now()
        self.timelapse.close()
        self.timelapse_exports.cancel()
        self.worker.request_stop(keep_jobs=True)
        exporting = self.exports.in_flight > 0
        if exporting:
            self.closing_progress.emit("Finishing the export before closing…")
        self._close_deadline.start(EXPORT_CLOSE_DEADLINE_MS if exporting else CLOSE_DEADLINE_MS)
        self._maybe_closed()

    def abandon_exports(self) -> None:
        """The user chose not to wait: queued exports are dropped and the one running is
        cancelled at its next decoder block (its file is then not written). The close ends
        when the worker has stopped, or at a short deadline if the export was already
        writing its file (that write is atomic: the file is either complete or absent)."""
        self.worker.request_stop(keep_jobs=False)
        if not self._closed:
            self._close_deadline.start(ABANDON_DEADLINE_MS)
        self._maybe_closed()

    def _say_progress(self, text: str) -> None:
        if text:
            self.gate.status_changed.emit(text)

    def _on_worker_finished(self) -> None:
        # Emitted from the worker thread just before it ends: the wait is for that last step.
        self.worker.wait(500)
        self._maybe_closed()

    def _maybe_closed(self) -> None:
        busy = self.session.busy or self.timelapse.busy or self.filmstrip.busy
        if self._closing and not self.worker.isRunning() and not busy:
            self._finish_close(True)

    def _finish_close(self, in_time: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_deadline.stop()
        self.closed.emit(in_time and not self.worker.isRunning())

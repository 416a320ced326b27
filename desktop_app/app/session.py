"""The autosave: the sketch and the settings that made the picture survive a crash.

Each finished stroke (and each undo, clear or import) is saved at once, and a setting change
a moment later; the canvas is copied on the UI thread (a memcpy) and the PNG encoding, the
JSON and the fsyncs run on one background thread, so a stroke is never held up and a
``kill -9`` loses at most the stroke being drawn and the last second of settings. Saves are
latest-wins: while one is being written, only the newest state waits (an older waiting one is
dropped), so strokes faster than the disk never pile up sketch copies.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from desktop_app.app import files
from desktop_app.app.state import LiveState
from desktop_app.core.errors import LiveCanvasError
from desktop_app.core.settings_table import stored_in

SETTINGS_SAVE_DELAY_MS = 1000  # a slider drag is many changes: save once it rests
SESSION_KEYS = stored_in("session")


class _Saver(QRunnable):
    def __init__(self, keeper: SessionKeeper) -> None:
        super().__init__()
        self.keeper = keeper

    def run(self) -> None:
        self.keeper._write_waiting()


class SessionKeeper(QObject):
    notice = Signal(str)  # something the user should know (a failed save)
    saved = Signal()  # a background save has ended (written or failed)
    _done = Signal()  # from the saving thread

    def __init__(
        self, state: LiveState, data_dir: Path | None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.sketch_source: Callable[[], np.ndarray] | None = None
        # (version, image or None) of the reference under the strokes: saved when it changed.
        self.reference_source: Callable[[], tuple[int, np.ndarray | None]] | None = None
        self._saved_reference = 0
        self.autosave = files.Autosave(data_dir) if data_dir is not None else None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        # The newest state not yet being written, and whether a saver runs: both guarded by
        # the lock, shared with the saving thread.
        self._lock = threading.Lock()
        self._waiting: tuple[np.ndarray | None, dict[str, Any], Any] | None = None
        self._saver_running = False
        self._timer = QTimer(self, singleShot=True, interval=SETTINGS_SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save_soon_now)
        state.changed.connect(self._on_state_changed)
        self._done.connect(self._on_done)

    def _on_state_changed(self, name: str) -> None:
        if name in SESSION_KEYS:
            self._timer.start()

    def sketch_changed(self, in_stroke: bool) -> None:
        """A stroke in progress is saved when it ends; anything else at once."""
        if not in_stroke:
            self.save_soon_now()

    def session(self) -> dict[str, Any]:
        return self.state.snapshot(SESSION_KEYS)

    def save_soon_now(self) -> None:
        """Take the sketch and settings now; write them on the background thread."""
        self._timer.stop()
        if self.autosave is None:
            return
        sketch = self.sketch_source() if self.sketch_source is not None else None
        reference = self._changed_reference()
        with self._lock:
            if reference is files.KEEP and self._waiting is not None:
                reference = self._waiting[2]  # a change not yet written is not dropped
            self._waiting = (sketch, self.session(), reference)
            if self._saver_running:
                return  # the running saver takes it next
            self._saver_running = True
        self._pool.start(_Saver(self))

    def _changed_reference(self) -> Any:
        """The reference image (or None) when it changed since the last save, else KEEP."""
        if self.reference_source is None:
            return files.KEEP
        version, image = self.reference_source()
        if version == self._saved_reference:
            return files.KEEP
        self._saved_reference = version
        return image

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._saver_running

    def wait(self) -> None:
        """Block until every save has been written (tests, and the command line)."""
        self._pool.waitForDone()

    def _write_waiting(self) -> None:
        """The saving thread: write the newest waiting state until none is left."""
        while True:
            with self._lock:
                if self._waiting is None:
                    self._saver_running = False
                    break
                (sketch, session, reference), self._waiting = self._waiting, None
            failure = None
            try:
                self.autosave.save(sketch, session, reference)
            except LiveCanvasError as err:
                failure = f"Autosave failed: {err}"
            if failure:
                with contextlib.suppress(RuntimeError):  # see below
                    self.notice.emit(failure)
        # Queued to the UI thread. A keeper already deleted (its window destroyed while this
        # save ran) has no listener.
        with contextlib.suppress(RuntimeError):
            self._done.emit()

    def _on_done(self) -> None:
        self.saved.emit()

    def restore(self) -> files.Restored | None:
        """Apply the autosaved settings; the sketch and what was dropped go to the caller."""
        if self.autosave is None:
            return None
        restored = self.autosave.load()
        self.state.apply(restored.values)
        self._timer.stop()
        return restored

"""The autosave: the sketch and the settings that made the picture survive a crash.

Each finished stroke (and each undo, clear or import) is saved at once, and a setting change
a moment later; the canvas is copied on the UI thread (a memcpy) and the PNG encoding, the
JSON and the fsyncs run on one background thread, so a stroke is never held up and a
``kill -9`` loses at most the stroke being drawn and the last second of settings. Saves are
latest-wins: while one is being written, only the newest state waits (an older waiting one is
dropped), so strokes faster than the disk never pile up sketch copies. A save that fails,
for whatever reason, is logged and said once, and the next change is saved again
(``background_writer``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.app import files
from desktop_app.app.background_writer import BackgroundWriter
from desktop_app.app.state import LiveState
from desktop_app.core.settings_table import stored_in

SETTINGS_SAVE_DELAY_MS = 1000  # a slider drag is many changes: save once it rests
# After a failed save with nothing newer to write, the same state is tried again this much
# later (a full disk that was emptied, a folder given back its permissions): the banner's
# "retrying" holds even when the user has stopped drawing.
RETRY_DELAY_MS = 5000
SESSION_KEYS = stored_in("session")


class SessionKeeper(QObject):
    notice = Signal(str)  # something the user should know (a failed save)
    saved = Signal()  # a background save has ended (written or failed)

    def __init__(
        self, state: LiveState, data_dir: Path | None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.sketch_source: Callable[[], np.ndarray] | None = None
        # (version, image or None) of the reference under the strokes: saved when it changed.
        self.reference_source: Callable[[], tuple[int, np.ndarray | None]] | None = None
        self._saved_reference = 0
        # The selection as JSON holds it (None for none), saved with the settings.
        self.selection_source: Callable[[], dict[str, Any] | None] | None = None
        self.autosave = files.Autosave(data_dir) if data_dir is not None else None
        # Latest wins: at most one state waits, (sketch, session, reference).
        self.writer = BackgroundWriter("Autosave", self._write, self)
        self.writer.failed.connect(self.notice)
        self.writer.idle.connect(self._on_idle)
        self._timer = QTimer(self, singleShot=True, interval=SETTINGS_SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save_soon_now)
        self._retry = QTimer(self, singleShot=True, interval=RETRY_DELAY_MS)
        self._retry.timeout.connect(self.save_soon_now)
        state.changed.connect(self._on_state_changed)

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
        self._retry.stop()
        if self.autosave is None:
            return
        sketch = self.sketch_source() if self.sketch_source is not None else None
        reference = self._changed_reference()
        session = self.session()
        if self.selection_source is not None:
            session["selection"] = self.selection_source()
        with self.writer.queue() as waiting:
            older = waiting.pop() if waiting else None
            if reference is files.KEEP and older is not None:
                reference = older[2]  # a change not yet written is not dropped
            waiting.append((sketch, session, reference))

    def _on_idle(self) -> None:
        if self.writer.failing:
            self._retry.start()
        self.saved.emit()

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
        return self.writer.busy

    def wait(self) -> None:
        """Block until every save has been written (tests, and the command line)."""
        self.writer.wait()

    def _write(self, state: tuple[np.ndarray | None, dict[str, Any], Any]) -> None:
        """The saving thread's one save; a failure is the writer's to log and say."""
        sketch, session, reference = state
        assert self.autosave is not None  # save_soon_now queues nothing without one
        try:
            self.autosave.save(sketch, session, reference)
        except BaseException:
            if reference is not files.KEEP:
                # The next save writes the reference again: a later state that kept it
                # ("not changed since the last save") would otherwise lose it.
                self._saved_reference = -1
            raise

    def restore(self) -> files.Restored | None:
        """Apply the autosaved settings; the sketch and what was dropped go to the caller."""
        if self.autosave is None:
            return None
        restored = self.autosave.load()
        self.state.apply(restored.values)
        self._timer.stop()
        return restored

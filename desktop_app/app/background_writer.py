"""One thread that writes what the UI thread hands it: the autosave, the timelapse and the
filmstrip each own one.

The UI thread only queues (under a lock, no encoding, no disk); a single pooled thread takes
the waiting items one by one and calls ``write``. Each owner decides what waiting means
(``queue()`` hands it the waiting items to change under the lock): the autosave keeps only
the newest state, the timelapse a few frames in order. A write that fails, whatever the
exception (a full disk, a PermissionError, a Pillow error, MemoryError), is logged with its
traceback and said once as ``"<what> failed: <reason>; retrying"``, once per run of
failures, not at every attempt; the writer goes on with the next item, so the next change
is written again. Nothing that goes wrong in ``write`` can end the thread or leave the
writer marked as running.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from desktop_app.core.errors import user_message
from desktop_app.core.log import log_error

_logger = logging.getLogger("live_canvas.writers")


class _Drain(QRunnable):
    def __init__(self, writer: BackgroundWriter) -> None:
        super().__init__()
        self.writer = writer

    def run(self) -> None:
        self.writer._drain()


class BackgroundWriter(QObject):
    """``what`` names the writer in its failure line ("Autosave"); ``write`` runs on the
    writing thread, one item at a time."""

    failed = Signal(str)  # the line for a banner, once per run of failures
    idle = Signal()  # everything queued was handled (written or failed)
    # From the writing thread, re-emitted on the UI thread (a listener that is a plain
    # function would otherwise be called on the writing thread).
    _failed_there = Signal(str)
    _idle_there = Signal()

    def __init__(
        self, what: str, write: Callable[[Any], None], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.what = what
        self._write = write
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        # Shared with the writing thread, under the lock:
        self._lock = threading.Lock()
        self._waiting: deque[Any] = deque()
        self._running = False
        self._failing = False  # the writing thread's: the last write failed
        self._failed_there.connect(self.failed)
        self._idle_there.connect(self.idle)

    @contextlib.contextmanager
    def queue(self) -> Iterator[deque[Any]]:
        """The waiting items, to change under the lock (append, replace, drop); when some
        are left waiting, the writing thread is started unless it runs."""
        with self._lock:
            yield self._waiting
            start = bool(self._waiting) and not self._running
            self._running = self._running or start
        if start:
            self._pool.start(_Drain(self))

    def put(self, item: Any) -> None:
        with self.queue() as waiting:
            waiting.append(item)

    def count(self, which: Callable[[Any], bool] = lambda _item: True) -> int:
        """How many waiting items are ``which``."""
        with self._lock:
            return sum(1 for item in self._waiting if which(item))

    @property
    def failing(self) -> bool:
        """The last write failed (read it once ``idle`` says the writer is done)."""
        return self._failing

    @property
    def busy(self) -> bool:
        """Something waits or is being written."""
        with self._lock:
            return self._running

    def wait(self) -> None:
        """Block until everything queued is handled (tests, closing, the command line)."""
        self._pool.waitForDone()

    # --- the writing thread ----------------------------------------------------------------
    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._running = False
                    break
                item = self._waiting.popleft()
            self._write_one(item)
        self._emit(self._idle_there)

    def _write_one(self, item: Any) -> None:
        try:
            self._write(item)
        except Exception as err:  # noqa: BLE001 - any failure: logged, said, and the next goes on
            log_error(err, f"{self.what} failed")
            if not self._failing:
                self._failing = True
                self._emit(self._failed_there, f"{self.what} failed: {user_message(err)}; retrying")
            return
        if self._failing:
            self._failing = False
            _logger.info("%s works again", self.what)

    @staticmethod
    def _emit(signal, *args) -> None:
        # Queued to the UI thread; an owner already deleted (its window gone) has no one to
        # tell.
        with contextlib.suppress(RuntimeError):
            signal.emit(*args)

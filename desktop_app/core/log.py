"""The log: every caught failure with its whole traceback, for a bug report.

A person reads one line for a failure (``errors.user_message``); what a developer needs (the
traceback, the thread, what was being done) goes to ``live-canvas.log`` in the app's data
folder, beside the autosave: a rotating file of at most ``MAX_BYTES`` with ``BACKUPS`` older
ones (3 MB in all). The window starts it (``start_log``) and routes uncaught exceptions, of
the UI thread and of any other, to it (``route_uncaught``). Until a log is started,
``log_error`` writes nowhere: a command-line run prints its one line and leaves no file, and
no traceback ever falls through to stderr.

No Qt here: the folder is given by whoever knows it.
"""

from __future__ import annotations

import logging
import platform
import sys
import threading
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path

from desktop_app import __version__
from desktop_app.core.errors import user_message

LOG_NAME = "live-canvas.log"
MAX_BYTES = 1024 * 1024
BACKUPS = 2  # live-canvas.log.1 and .2

_logger = logging.getLogger("live_canvas")
# Failures are logged here; the NullHandler keeps logging's last resort (stderr, traceback
# and all) from printing them when no log has been started.
_failures = logging.getLogger("live_canvas.failures")
_failures.addHandler(logging.NullHandler())
_handler: RotatingFileHandler | None = None
_lock = threading.Lock()


def log_path(folder: Path) -> Path:
    """Where the log of a data folder is (whether or not it was written yet)."""
    return Path(folder) / LOG_NAME


def current_log() -> Path | None:
    """The file being written, None before ``start_log``."""
    handler = _handler
    return Path(handler.baseFilename) if handler is not None else None


def start_log(folder: Path) -> Path:
    """Write the log in ``folder`` from now on (creating it); returns the file. Starting it
    in another folder moves it there (each test's window has its own data folder).

    Raises OSError when the folder or the file cannot be written."""
    global _handler
    path = log_path(folder)
    with _lock:
        if _handler is not None and Path(_handler.baseFilename) == path.absolute():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s")
        )
        _stop_locked()
        _logger.addHandler(handler)
        _logger.setLevel(logging.INFO)
        _handler = handler
    _logger.info(
        "Live Canvas %s started (Python %s, %s)",
        __version__,
        platform.python_version(),
        platform.platform(),
    )
    return path


def stop_log() -> None:
    """Close the log file (tests; the process's exit closes it anyway)."""
    with _lock:
        _stop_locked()


def _stop_locked() -> None:
    global _handler
    if _handler is not None:
        _logger.removeHandler(_handler)
        _handler.close()
        _handler = None


def log_error(err: BaseException, context: str) -> None:
    """Write a caught failure with its traceback; ``context`` says what was being done
    ("Autosave", "rendering a frame"). Never raises."""
    try:
        _failures.error(
            "%s: %s", context, user_message(err), exc_info=(type(err), err, err.__traceback__)
        )
    except Exception:  # noqa: BLE001, S110 - a log that fails must not fail the caller
        pass


def uncaught_message(err: BaseException) -> str:
    """The banner's line for a failure nobody caught."""
    where = current_log()
    details = f"; the details are in {where}" if where else ""
    return f"Something went wrong: {user_message(err)}{details}. The app goes on."


def route_uncaught(show: Callable[[str], None]) -> Callable[[], None]:
    """Send exceptions nobody caught (the UI thread's, through ``sys.excepthook``, which Qt
    calls for a failing slot, and any thread's) to the log and to ``show`` (called on the
    failing thread: it must be safe there). Returns what undoes it."""
    before_sys, before_threads = sys.excepthook, threading.excepthook

    def on_uncaught(kind, err, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            before_sys(kind, err, tb)
            return
        _report(err.with_traceback(tb) if err is not None else kind(), "uncaught", show)

    def on_thread_uncaught(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        err = args.exc_value if args.exc_value is not None else args.exc_type()
        name = args.thread.name if args.thread is not None else "a thread"
        _report(err.with_traceback(args.exc_traceback), f"uncaught in {name}", show)

    sys.excepthook, threading.excepthook = on_uncaught, on_thread_uncaught

    def undo() -> None:
        sys.excepthook, threading.excepthook = before_sys, before_threads

    return undo


def _report(err: BaseException, context: str, show: Callable[[str], None]) -> None:
    log_error(err, context)
    message = uncaught_message(err)
    try:
        print(f"live-canvas: error: {message}", file=sys.stderr)
        show(message)
    except Exception as failure:  # noqa: BLE001 - a hook must not raise (a window gone)
        log_error(failure, "showing an uncaught failure")

"""The timelapse recorder: every frame shown, with the sketch that made it and the time it
appeared, appended to the spool (``spool``) while recording is on.

The UI thread only queues (the result, its drawing, the time: references, no copies, no
encoding); one background thread compares, encodes (JPEG through Pillow) and appends. The
queue is short: when the disk or the encoder falls behind, the oldest waiting frame gives way
(a timelapse loses an in-between frame, the UI never waits), so memory does not grow with
the session. The spool lives in the app-data folder and survives a crash: what was flushed
can be exported after a restart. A frame that cannot be written is logged and said once
(``background_writer``); recording goes on with the next one.
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from desktop_app.app.background_writer import BackgroundWriter
from desktop_app.app.drawing import Drawing
from desktop_app.app.frame_pacer import FramePacer
from desktop_app.app.state import LiveState
from desktop_app.app.timelapse import spool
from desktop_app.core.types import FrameResult

MAX_WAITING = 4  # frames queued for the writer; beyond, the oldest waiting one is dropped
MAX_SPOOL_BYTES = 4 * 1024**3  # 3 hours at 5 frames a second, 512 px (docs/PERFORMANCE.md)
JPEG_QUALITY = 90  # the film is 4:2:0 H.264 or lossy WebP: finer is not seen
_CLOSE, _DISCARD, _COUNT = "close", "discard", "count"  # commands for the writer


def sketch_view(drawing: Drawing) -> np.ndarray:
    """The sketch as the canvas shows it: the strokes over the reference, when one shows."""
    colours = drawing.colours()  # None unless a reference shows
    return colours if colours is not None else drawing.strokes


def jpeg(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


class TimelapseRecorder(QObject):
    """Records while the ``timelapse_recording`` setting is on; ``directory`` None (no data
    folder) records nothing."""

    progress = Signal(int, int)  # frames in the recording, bytes on disk
    notice = Signal(str)  # one line: a write failed, the size limit was reached
    idle = Signal()  # the writer has nothing left to do
    # From the writer thread: a frame appended (its bytes); the spool counted or emptied
    # (frames, bytes).
    _appended = Signal(int)
    _counted = Signal(int, int)

    def __init__(
        self,
        state: LiveState,
        frames: FramePacer,
        directory: Path | None,
        max_bytes: int = MAX_SPOOL_BYTES,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.frames = frames
        self.directory = directory
        self.max_bytes = max_bytes
        self.frame_count = 0  # in the spool, this run's and earlier runs' (once counted)
        self.spool_bytes = 0
        self.dropped = 0  # frames given up because the writer was behind
        self._closed = False
        # Frames (tuples) and commands, in order; at most MAX_WAITING frames.
        self.writer = BackgroundWriter("Timelapse recording", self._handle, self)
        # Touched by the writer thread only:
        self._segment = spool.SegmentWriter(directory) if directory is not None else None
        self._last_picture: np.ndarray | None = None
        self._last_sketch: np.ndarray | None = None
        self._bytes_written = 0  # the spool's size as the writer knows it
        self._appended.connect(self._on_appended)
        self._counted.connect(self._on_counted)
        self.writer.idle.connect(self.idle)
        self.writer.failed.connect(self.notice)
        frames.result_shown.connect(self.take)
        state.timelapse_recording_changed.connect(self._on_recording_changed)
        self._command(_COUNT)  # what an earlier run left, counted off this thread

    @property
    def recording(self) -> bool:
        return bool(self.state.timelapse_recording) and self.directory is not None

    @property
    def waiting(self) -> int:
        """Frames queued for the writer (at most MAX_WAITING)."""
        return self.writer.count(lambda item: isinstance(item, tuple))

    @property
    def busy(self) -> bool:
        return self.writer.busy

    def take(self, result: FrameResult) -> None:
        """A frame is on screen (the UI thread): queue it, nothing more."""
        if not self.recording:
            return
        item = (time.monotonic(), result.image, self.frames.drawing_of(result))
        with self.writer.queue() as waiting:
            if sum(1 for w in waiting if isinstance(w, tuple)) >= MAX_WAITING:
                oldest = next(i for i, w in enumerate(waiting) if isinstance(w, tuple))
                del waiting[oldest]
                self.dropped += 1
            waiting.append(item)

    def discard(self) -> None:
        """Delete the recording (after what is queued); recording goes on if it is on."""
        self._command(_DISCARD)

    def close(self) -> None:
        """Finish the segment (the app is closing); frames shown later are not recorded."""
        if self._closed:
            return
        self._closed = True
        self.state.timelapse_recording_changed.disconnect(self._on_recording_changed)
        self.frames.result_shown.disconnect(self.take)
        self._command(_CLOSE)

    def wait(self) -> None:
        """Block until the writer is idle (tests, benchmarks)."""
        self.writer.wait()

    def _on_recording_changed(self, on: bool) -> None:
        if not on:
            self._command(_CLOSE)  # the next recording is a new segment: a pause in the film

    def _command(self, command: str) -> None:
        if self.directory is None:
            return
        self.writer.put(command)

    # --- the writer thread -----------------------------------------------------------------
    def _handle(self, item: tuple | str) -> None:
        # Nothing is queued without a folder (see _command and take).
        assert self.directory is not None and self._segment is not None
        if item == _CLOSE:
            self._segment.close()
            self._last_picture = self._last_sketch = None
        elif item == _DISCARD:
            self._segment.close()
            spool.discard(self.directory)
            self._last_picture = self._last_sketch = None
            self._bytes_written = 0
            self._emit(self._counted, 0, 0)
        elif item == _COUNT:
            index = spool.read_index(self.directory)
            self._bytes_written = spool.spool_bytes(self.directory)
            self._emit(self._counted, len(index.frames), self._bytes_written)
        else:
            self._write_frame(*item)

    def _write_frame(self, shown_at: float, picture: np.ndarray, drawing: Drawing | None) -> None:
        if self._last_picture is not None and np.array_equal(picture, self._last_picture):
            return  # the same picture again (a filmstrip click, a frame that changed nothing)
        if self._bytes_written >= self.max_bytes:
            return  # said on the UI thread, which turns recording off
        sketch = sketch_view(drawing) if drawing is not None else None
        same_sketch = sketch is None or (
            self._last_sketch is not None and np.array_equal(sketch, self._last_sketch)
        )
        record = spool.encode_record(
            shown_at,
            (picture.shape[1], picture.shape[0]),
            jpeg(picture),
            b"" if same_sketch or sketch is None else jpeg(sketch),
        )
        assert self._segment is not None
        self._segment.append(record)
        self._last_picture = picture
        if not same_sketch:
            self._last_sketch = sketch
        self._bytes_written += len(record)
        self._emit(self._appended, len(record))

    @staticmethod
    def _emit(signal, *args) -> None:
        # Queued to the UI thread; a recorder already deleted (its window gone) has no one
        # to tell.
        with contextlib.suppress(RuntimeError):
            signal.emit(*args)

    # --- back on the UI thread -------------------------------------------------------------
    def _on_appended(self, size: int) -> None:
        self.frame_count += 1
        self.spool_bytes += size
        self._after_change()

    def _on_counted(self, frames: int, size: int) -> None:
        self.frame_count, self.spool_bytes = frames, size
        self._after_change()

    def _after_change(self) -> None:
        if self.spool_bytes >= self.max_bytes and self.recording:
            self.state.timelapse_recording = False
            self.notice.emit(
                f"The timelapse reached its limit of {self.max_bytes / 1024**2:.0f} MB and "
                "stopped recording: export it, or discard it to record again."
            )
        self.progress.emit(self.frame_count, self.spool_bytes)

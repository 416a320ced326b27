"""The timelapse spool: recorded frames on disk, one segment file per recording run.

A segment is an 8-byte header (``LCTL`` and a version) followed by records, each
``<II`` (payload length, CRC-32 of the payload) and the payload: ``<dHHII`` (the monotonic
time the frame appeared, the picture's width and height, the lengths of the two images that
follow), the picture as JPEG and the sketch as JPEG (length 0: the same sketch as the record
before, so a prompt change does not store the page again). Records are appended and flushed
one by one, so a ``kill -9`` loses at most the record being written; a torn or damaged tail
(a short read, an absurd length, a wrong checksum) ends the segment's readable part and is
dropped on reading. A new run opens a new segment rather than appending to an old one, so a
damaged tail is never followed by good records and nothing has to be repaired at startup.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from desktop_app.core.errors import OutputError

MAGIC = b"LCTL\x01\x00\x00\x00"
_RECORD = struct.Struct("<II")  # payload length, crc32
_FRAME = struct.Struct("<dHHII")  # time, width, height, picture bytes, sketch bytes
MAX_RECORD_BYTES = 64 * 1024 * 1024  # two JPEGs of a 2048-pixel frame are far below this
FSYNC_EVERY_S = 2.0  # flush() already survives a killed process; fsync is for power loss
_SEGMENT = re.compile(r"segment-(\d{6})\.lctl")


@dataclass(frozen=True)
class FrameRef:
    """Where one recorded frame lies: enough to read it back without holding its pixels."""

    segment: int  # index into the spool's segment list (a new run starts a new one)
    path: Path
    picture_at: int  # file offset of the picture bytes
    picture_len: int
    sketch_at: int  # of this frame's sketch, or of the last one stored before it
    sketch_len: int
    time_s: float
    width: int
    height: int


@dataclass(frozen=True)
class SpoolIndex:
    frames: tuple[FrameRef, ...]
    notices: tuple[str, ...]  # one line per damaged part that was dropped


def segments(directory: Path) -> list[Path]:
    """The spool's segment files, oldest first."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _SEGMENT.fullmatch(p.name) and p.is_file()]
    return sorted(found, key=lambda p: p.name)


def spool_bytes(directory: Path) -> int:
    total = 0
    for path in segments(directory):
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def discard(directory: Path) -> None:
    """Delete every segment (the caller has closed the one being written)."""
    for path in segments(directory):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def encode_record(time_s: float, size: tuple[int, int], picture: bytes, sketch: bytes) -> bytes:
    payload = _FRAME.pack(time_s, size[0], size[1], len(picture), len(sketch)) + picture + sketch
    return _RECORD.pack(len(payload), zlib.crc32(payload)) + payload


class SegmentWriter:
    """Appends records to a new segment; opened on the first record, so turning recording
    on and off without a frame leaves no file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._file: BinaryIO | None = None
        self._synced_at = 0.0

    def append(self, record: bytes) -> None:
        try:
            if self._file is None:
                self._file = self._open_new()
            self._file.write(record)
            self._file.flush()  # in the OS now: a killed process loses nothing of it
            if time.monotonic() - self._synced_at > FSYNC_EVERY_S:
                os.fsync(self._file.fileno())
                self._synced_at = time.monotonic()
        except OSError as err:
            self.close()
            raise OutputError(
                f"cannot write the timelapse in {self.directory}: {err.strerror or err}"
            ) from None

    def _open_new(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        existing = segments(self.directory)
        number = int(_SEGMENT.fullmatch(existing[-1].name).group(1)) + 1 if existing else 1
        handle = open(self.directory / f"segment-{number:06d}.lctl", "xb")  # noqa: SIM115
        handle.write(MAGIC)
        return handle

    def close(self) -> None:
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self._file.flush()
            os.fsync(self._file.fileno())
        with contextlib.suppress(OSError):
            self._file.close()
        self._file = None


def read_index(directory: Path) -> SpoolIndex:
    """Every readable frame of every segment, in order; never raises. A segment's damaged
    tail is dropped with one line saying how much."""
    frames: list[FrameRef] = []
    notices: list[str] = []
    for number, path in enumerate(segments(directory)):
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                dropped = _index_segment(handle, number, path, size, frames)
        except OSError as err:
            notices.append(f"Timelapse file {path.name} cannot be read ({err.strerror or err}).")
            continue
        if dropped:
            notices.append(
                f"The end of timelapse file {path.name} was damaged or cut off; "
                f"{dropped} bytes there were dropped, the frames before them are kept."
            )
    return SpoolIndex(tuple(frames), tuple(notices))


def _index_segment(handle, number: int, path: Path, size: int, frames: list[FrameRef]) -> int:
    """Append the segment's good records to ``frames``; returns the bytes dropped at its end."""
    if handle.read(len(MAGIC)) != MAGIC:
        return size
    offset = len(MAGIC)
    sketch: tuple[int, int] | None = None
    while offset < size:
        header = handle.read(_RECORD.size)
        if len(header) < _RECORD.size:
            break
        length, crc = _RECORD.unpack(header)
        if not _FRAME.size <= length <= min(MAX_RECORD_BYTES, size - offset - _RECORD.size):
            break  # absurd, or runs past the end: a torn write
        payload = handle.read(length)
        if len(payload) < length or zlib.crc32(payload) != crc:
            break
        time_s, width, height, picture_len, sketch_len = _FRAME.unpack_from(payload)
        if _FRAME.size + picture_len + sketch_len != length or not picture_len:
            break
        start = offset + _RECORD.size + _FRAME.size
        if sketch_len:
            sketch = (start + picture_len, sketch_len)
        at, sketch_bytes = sketch or (0, 0)
        frames.append(
            FrameRef(number, path, start, picture_len, at, sketch_bytes, time_s, width, height)
        )
        offset += _RECORD.size + length
    return size - offset


def read_frame(ref: FrameRef) -> tuple[bytes, bytes]:
    """The picture's and the sketch's encoded bytes (the sketch may be empty)."""
    with open(ref.path, "rb") as handle:
        handle.seek(ref.picture_at)
        picture = handle.read(ref.picture_len)
        sketch = b""
        if ref.sketch_len:
            handle.seek(ref.sketch_at)
            sketch = handle.read(ref.sketch_len)
    return picture, sketch

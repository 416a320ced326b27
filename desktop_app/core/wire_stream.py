"""A frame's reply as a stream of records, so that a client can tell a slow server from a dead
one (protocol extension ``stream`` 1, on top of the LCF1 container of ``wire``).

A client that asks for it (``"stream": 1`` in a frame's header; a server says it can in
``GET /v1/info``) gets, once its request is read and checked, ``200`` with the media type
``application/x-live-canvas-stream`` and a body of records sent as they happen (HTTP/1.1
chunked): each is an LCF1 container whose header says its ``kind`` and the length of its
payload in ``bytes``:

- ``accepted``, at once: the frame was taken; ``heartbeat_s`` says how often to expect news;
- ``progress``, every ``heartbeat_s`` while the frame waits or renders: ``stage`` ("waiting"
  for the engine, "rendering", "encoding") and ``elapsed_ms``; a later ``step``/``steps``
  pair (a denoising step of so many) fits the same record;
- then one ``result`` (the plain reply's header with the picture as payload) or one
  ``error`` (``status`` and ``error``: the status and one line a plain reply would carry).

A request the server refuses before it starts (401, 413, a bad setting) is answered as
before, with that status and ``{"error": line}``. Neither side needs anything but this module
and ``wire``; an older server ignores ``stream`` and answers the plain reply.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from desktop_app.core.wire import MAGIC, MAX_HEADER_BYTES, WireError, pack

STREAM = 1  # the version of streamed replies this side speaks
STREAM_CONTENT_TYPE = "application/x-live-canvas-stream"
HEARTBEAT_S = 2.0  # a server's news while a frame renders; a client's silence limit is longer
MAX_RECORD_BYTES = 64 * 1024 * 1024  # a 4096² export PNG fits; a damaged length does not

Record = tuple[dict[str, Any], bytes]
_LENGTH = struct.Struct(">I")  # as in wire.pack


def wants_stream(header: dict[str, Any]) -> bool:
    """The frame's client reads a streamed reply (any version from 1: the server answers in
    its own, which the ``accepted`` record names)."""
    asked = header.get("stream")
    return isinstance(asked, int) and not isinstance(asked, bool) and asked >= STREAM


def record(header: dict[str, Any], payload: bytes = b"") -> bytes:
    return pack({**header, "bytes": len(payload)}, payload)


def accepted_record(heartbeat_s: float) -> bytes:
    return record({"kind": "accepted", "stream": STREAM, "heartbeat_s": heartbeat_s})


def progress_record(stage: str, elapsed_ms: float) -> bytes:
    return record({"kind": "progress", "stage": stage, "elapsed_ms": round(elapsed_ms, 1)})


def result_record(header: dict[str, Any], picture: bytes) -> bytes:
    return record({**header, "kind": "result"}, picture)


def error_record(status: int, message: str) -> bytes:
    return record({"kind": "error", "status": status, "error": message})


class RecordReader:
    """The records of a streamed reply, taken from its bytes as they arrive."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Record]:
        self._buffer += data
        found = []
        while (taken := self._take()) is not None:
            found.append(taken)
        return found

    @property
    def pending(self) -> int:
        """Bytes of a record not yet complete."""
        return len(self._buffer)

    def _take(self) -> Record | None:
        buffer, start = self._buffer, len(MAGIC) + _LENGTH.size
        if len(buffer) < start:
            return None
        if not buffer.startswith(MAGIC):
            raise WireError(502, "the server's stream is not made of Live Canvas records")
        (length,) = _LENGTH.unpack_from(buffer, len(MAGIC))
        if length > MAX_HEADER_BYTES:
            raise WireError(502, f"a record of the server's stream has a {length}-byte header")
        if len(buffer) < start + length:
            return None
        try:
            header = json.loads(bytes(buffer[start : start + length]).decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise WireError(502, f"a record of the server's stream is unreadable ({err})") from None
        size = header.get("bytes", 0) if isinstance(header, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_RECORD_BYTES:
            raise WireError(502, "a record of the server's stream has no sane length")
        end = start + length + size
        if len(buffer) < end:
            return None
        payload = bytes(buffer[start + length : end])
        del buffer[:end]
        return header, payload


def final_record(body: bytes) -> Record:
    """The ``result`` or ``error`` record that ends a whole streamed reply (the records
    before it only kept the connection alive); WireError(502) if there is none."""
    reader = RecordReader()
    records = reader.feed(body)
    if reader.pending:
        raise WireError(502, "the server's stream ends in the middle of a record")
    for header, payload in reversed(records):
        if header.get("kind") in ("result", "error"):
            return header, payload
    raise WireError(502, "the server ended the frame without a picture or an error")

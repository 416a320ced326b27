"""Finish on a replica (``POST /v1/finish``, ``core/wire_finish``), without Ray: the request
read and checked before it costs the engine anything, then the finish itself, one at a time
with the replica's frames (the same engine lock), each stage and step handed to the stream's
``heard`` as it happens. The finished picture goes back as a PNG with the text chunks of a
local export."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from desktop_app.core.errors import DeviceOutOfMemoryError, LiveCanvasError, RenderCancelled
from desktop_app.core.metadata import png_info
from desktop_app.core.types import FinishProgress, FinishRequest, ServerTimings
from desktop_app.core.wire import WireError, encode_picture, result_header
from desktop_app.core.wire_finish import read_finish


@dataclass(frozen=True)
class AcceptedFinish:
    request: FinishRequest  # with the server's own files for its styles
    decode_ms: float
    streamed: bool


def accept_finish(service, body: bytes) -> AcceptedFinish:
    """``body`` read and checked (``service``: a ``FrameService``), or WireError."""
    start = time.perf_counter()
    request, streamed = read_finish(body)
    request = replace(request, loras=service._style_files(request.loras))
    return AcceptedFinish(request, (time.perf_counter() - start) * 1000.0, streamed)


def answer_finish(
    service,
    accepted: AcceptedFinish,
    should_cancel: Callable[[], bool] | None = None,
    received: float | None = None,
    heard: Callable[[FinishProgress], None] | None = None,
) -> tuple[dict[str, Any], bytes]:
    """The result record's header and the finished PNG; WireError(422) for what the model
    cannot do (out of memory, said in one line); RenderCancelled when cancelled."""
    received = received if received is not None else time.perf_counter()
    waiting = time.perf_counter()
    with service._engine_lock:
        queue_ms = (time.perf_counter() - waiting) * 1000.0
        try:
            result = service.engine.finish(accepted.request, heard, should_cancel)
        except RenderCancelled:
            raise
        except (DeviceOutOfMemoryError, LiveCanvasError) as err:
            raise WireError(422, str(err)) from None
    start = time.perf_counter()
    picture = encode_picture(result.image, "png", 100, png_info(result.params))
    server = ServerTimings(
        replica=service.replica,
        queue_ms=queue_ms,
        decode_ms=accepted.decode_ms,
        encode_ms=(time.perf_counter() - start) * 1000.0,
        handler_ms=(time.perf_counter() - received) * 1000.0,
    )
    header = result_header(
        accepted.request.request_id, result.params, result.timings, server, result.warnings
    )
    return header, picture

"""The Ray Serve deployment: each replica loads one engine (one GPU, or its share of CPUs)
and answers the frame protocol over Serve's HTTP proxy.

Requests reach ``__call__`` as Starlette requests; the frame itself runs on a worker thread so
the replica's event loop stays free to turn away bad requests (401, 413, ...) while a frame
renders. A client that asks for it gets a streamed reply (``core/wire_stream``): "accepted"
the moment its frame is checked, then a heartbeat every couple of seconds until the picture,
so it can tell a slow replica from a dead one. When a client goes away mid-frame (a newer
frame superseded it, or the window closed), Serve cancels the handler (or the stream's
generator); the cancel reaches the engine, which stops at its next model block, so a replica
never spends a GPU on a picture nobody will see.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ray import serve
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from desktop_app.core.errors import RenderCancelled
from desktop_app.core.wire import (
    CONTENT_TYPE,
    EXPORT_PATH,
    INFO_PATH,
    MAX_BODY_BYTES,
    WireError,
    error_body,
    pack,
)
from desktop_app.core.wire_stream import (
    HEARTBEAT_S,
    STREAM_CONTENT_TYPE,
    accepted_record,
    error_record,
    progress_record,
    result_record,
)
from desktop_app.serving.service import (
    AcceptedFrame,
    FrameProgress,
    FrameService,
    check_endpoint,
    too_large,
)

# Frames in a replica at once: one renders, the others are read, checked and wait their turn
# (the wait is the "queue" in a frame's timings). Serve's router sends a new request to the
# less busy of two replicas it picks at random (power of two choices).
MAX_ONGOING_REQUESTS = 4
_log = logging.getLogger("live_canvas.serve")


@dataclass(frozen=True)
class ReplicaConfig:
    model: str
    device: str | None = None
    dtype: str | None = None
    backend: str = "pytorch"
    precision: str | None = None  # with backend "openvino"
    compile_models: bool = False
    token_sha256: str | None = None
    cpu_threads: int | None = None  # torch threads of a CPU replica (its share of the cores)
    loras: tuple[str, ...] = ()  # LoRA files offered by name, beside the styles folder
    heartbeat_s: float = HEARTBEAT_S  # a streamed reply's news while a frame renders


@serve.deployment(
    name="LiveCanvas",
    max_ongoing_requests=MAX_ONGOING_REQUESTS,
    graceful_shutdown_timeout_s=5,
)
class FrameServer:
    def __init__(self, config: ReplicaConfig) -> None:
        if config.cpu_threads:
            os.environ["LIVE_CANVAS_THREADS"] = str(config.cpu_threads)
        from desktop_app.engine.loading import load_engine

        engine = load_engine(
            config.model,
            device=config.device,
            dtype=config.dtype,
            compile_models=config.compile_models,
            backend=config.backend,
            precision=config.precision,
        )
        replica = serve.get_replica_context().replica_id.unique_id
        self.service = FrameService(engine, config.token_sha256, replica, config.loras)
        self._threads = ThreadPoolExecutor(MAX_ONGOING_REQUESTS, thread_name_prefix="frame")
        self.heartbeat_s = config.heartbeat_s
        _log.info("replica %s ready: %s", replica, engine.info.describe())

    async def __call__(self, request: Request) -> Response:
        received = time.perf_counter()
        try:
            return await self._answer(request, received)
        except WireError as err:
            return _error(err.status, str(err))
        except ClientDisconnect:
            return _error(400, "the client went away before its request was read")
        except Exception as err:  # noqa: BLE001 - a reply, never a dead replica
            _log.exception("frame failed")
            return _error(500, f"internal error on the server: {type(err).__name__}: {err}")

    async def _answer(self, request: Request, received: float) -> Response:
        self.service.authorize(request.headers.get("authorization"))
        path = request.url.path
        check_endpoint(request.method, path)
        if path == INFO_PATH:
            return JSONResponse(self.service.info())
        headers = request.headers
        self.service.check_upload(headers.get("content-type"), headers.get("content-length"))
        body = await _read_body(request)
        loop = asyncio.get_running_loop()
        # Decoding the sketch takes milliseconds (a 2048² one, tens): off the event loop.
        frame = await loop.run_in_executor(
            self._threads, self.service.accept, body, path == EXPORT_PATH
        )
        if frame.streamed:
            return StreamingResponse(
                self._stream(frame, received), media_type=STREAM_CONTENT_TYPE
            )
        cancel = threading.Event()
        work = loop.run_in_executor(
            self._threads, self.service.answer, frame, cancel.is_set, received
        )
        try:
            payload = pack(*await work)
        except asyncio.CancelledError:
            cancel.set()  # the client went away: the engine stops at its next model block
            raise
        return Response(payload, media_type=CONTENT_TYPE)

    async def _stream(self, frame: AcceptedFrame, received: float):
        """The streamed reply: "accepted" at once, a heartbeat every ``heartbeat_s`` while the
        frame waits or renders, then its result or its error. A client that goes away
        cancels this generator (Serve's proxy sees the connection close), and the cancel
        reaches the engine."""
        cancel, progress = threading.Event(), FrameProgress()
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(
            self._threads, self.service.answer, frame, cancel.is_set, received, progress
        )
        try:
            yield accepted_record(self.heartbeat_s)
            while not work.done():
                await asyncio.wait({work}, timeout=self.heartbeat_s)
                if not work.done():
                    yield progress_record(progress.stage, _ms_since(received))
            yield _last_record(work)
        finally:
            cancel.set()  # the frame is done, or nobody waits for it any more


def _last_record(work: asyncio.Future) -> bytes:
    try:
        header, picture = work.result()
    except WireError as err:
        return error_record(err.status, str(err))
    except RenderCancelled:
        return error_record(503, "the frame was cancelled on the server")
    except Exception as err:  # noqa: BLE001 - a record, never a dead replica
        _log.exception("frame failed")
        return error_record(500, f"internal error on the server: {type(err).__name__}: {err}")
    return result_record(header, picture)


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


async def _read_body(request: Request) -> bytes:
    """The body, refused (413) the moment it passes the limit: a body without a declared
    length is counted as it arrives."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise WireError(413, too_large(len(body)))
    return bytes(body)


def _error(status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(error_body(message), status, headers, media_type="application/json")

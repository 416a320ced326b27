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
from dataclasses import dataclass, replace

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
from desktop_app.core.wire_finish import FINISH_PATH
from desktop_app.core.wire_finish import progress_record as finish_progress_record
from desktop_app.core.wire_stream import (
    HEARTBEAT_S,
    STREAM_CONTENT_TYPE,
    accepted_record,
    error_record,
    progress_record,
    result_record,
)
from desktop_app.serving.batching import Company, Outcome, SharedForwards, Waiting
from desktop_app.serving.finishing import AcceptedFinish, accept_finish, answer_finish
from desktop_app.serving.metrics import ReplicaMetrics
from desktop_app.serving.service import (
    AcceptedFrame,
    FrameProgress,
    FrameService,
    check_endpoint,
    too_large,
)
from desktop_app.serving.tokens import ArtistTokens

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
    max_batch: int = 1  # frames of several windows in one forward (1: no batching)
    batch_wait_s: float = 0.0  # how long a batch waits for more frames, when others draw
    tokens_file: str | None = None  # per-artist tokens (``serve --tokens-file``), re-read


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
        threads = max(MAX_ONGOING_REQUESTS, config.max_batch + 2)
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="frame")
        self.heartbeat_s = config.heartbeat_s
        self.max_batch, self.batch_wait_s = config.max_batch, config.batch_wait_s
        logging.getLogger("ray.serve").addFilter(_not_the_batch_bound_warning)
        self._batch_frames.set_max_batch_size(config.max_batch)
        self._forwards = SharedForwards(self.service, config.max_batch)
        # A thread per batch Ray may run at once (they wait for the engine's turn together).
        self._batch_threads = ThreadPoolExecutor(threads, thread_name_prefix="batch")
        self._company = Company()
        self.metrics = ReplicaMetrics()
        self.artists = ArtistTokens(config.tokens_file) if config.tokens_file else None
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
        artist = self._authorize(request.headers.get("authorization"))
        path = request.url.path
        check_endpoint(request.method, path)
        if path == INFO_PATH:
            return JSONResponse(self.service.info())
        headers = request.headers
        self.service.check_upload(headers.get("content-type"), headers.get("content-length"))
        body = await _read_body(request)
        loop = asyncio.get_running_loop()
        if path == FINISH_PATH:
            return await self._finish(body, received)
        # Decoding the sketch takes milliseconds (a 2048² one, tens): off the event loop.
        frame = await loop.run_in_executor(
            self._threads, self.service.accept, body, path == EXPORT_PATH
        )
        frame = replace(frame, artist=artist)
        if frame.streamed:
            return StreamingResponse(
                self._stream(frame, received), media_type=STREAM_CONTENT_TYPE
            )
        cancel, progress = threading.Event(), FrameProgress()
        work = self._start(frame, cancel, received, progress)
        try:
            payload = pack(*await work)
        except asyncio.CancelledError:
            cancel.set()  # the client went away: the engine stops at its next model block
            work.cancel()
            self._given_up(frame, progress)
            raise
        return Response(payload, media_type=CONTENT_TYPE)

    def _authorize(self, authorization: str | None) -> str:
        """The artist's name (empty with one shared token, or none); 401 otherwise."""
        if self.artists is None:
            self.service.authorize(authorization)
            return ""
        try:
            return self.artists.name_of(authorization)
        except WireError:
            self.metrics.refused()
            raise

    def _start(self, frame: AcceptedFrame, cancel, received: float, progress) -> asyncio.Future:
        """The frame's reply, to come: through a batch when batching is on (an export, a
        full-VAE decode, renders alone), else straight to the engine."""
        if self.max_batch > 1 and frame.may_batch and not frame.export and frame.crop is None:
            return asyncio.ensure_future(self._batched(frame, cancel, received, progress))
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(
            self._threads, self._answer_alone, frame, cancel.is_set, received, progress
        )

    def _answer_alone(self, frame, should_cancel, received, progress):
        reply = self.service.answer(frame, should_cancel, received, progress)
        self.metrics.frame_done(frame.artist, reply[0]["server"]["handler_ms"], 1)
        return reply

    async def _batched(self, frame: AcceptedFrame, cancel, received: float, progress):
        company = self._company
        company.enter()
        self._batch_frames.set_batch_wait_timeout_s(company.wait_s(self.batch_wait_s))
        self.metrics.queue_length(company.inside)
        try:
            outcome: Outcome = await self._batch_frames(
                Waiting(frame, cancel.is_set, received, progress)
            )
        finally:
            company.leave()
            self.metrics.queue_length(company.inside)
        if outcome.error is None:
            handler_ms = outcome.result()[0]["server"]["handler_ms"]
            self.metrics.frame_done(frame.artist, handler_ms, outcome.batch_size)
        elif progress.stage == "dropped":
            self.metrics.dropped(frame.artist)
        return outcome.result()

    @serve.batch(max_batch_size=1, batch_wait_timeout_s=0.0, max_concurrent_batches=64)
    async def _batch_frames(self, batch: list[Waiting]) -> list[Outcome]:
        """Frames that arrived together (Ray Serve drops those whose caller went away before
        the batch runs; ``run_batch`` those given up since); Ray hands on each batch at once
        and ``SharedForwards`` puts the frames waiting for the engine together."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._batch_threads, self._forwards.run, batch)

    def _given_up(self, frame: AcceptedFrame, progress: FrameProgress) -> None:
        if progress.stage in ("waiting", "dropped"):
            self.metrics.dropped(frame.artist)

    async def _stream(self, frame: AcceptedFrame, received: float):
        """The streamed reply: "accepted" at once, a heartbeat every ``heartbeat_s`` while the
        frame waits or renders, then its result or its error. A client that goes away
        cancels this generator (Serve's proxy sees the connection close), and the cancel
        reaches the engine."""
        cancel, progress = threading.Event(), FrameProgress()
        work = self._start(frame, cancel, received, progress)
        try:
            yield accepted_record(self.heartbeat_s)
            while not work.done():
                await asyncio.wait({work}, timeout=self.heartbeat_s)
                if not work.done():
                    yield progress_record(progress.stage, _ms_since(received))
            yield _last_record(work)
        finally:
            if not work.done():  # nobody waits for it any more
                cancel.set()
                work.cancel()
                self._given_up(frame, progress)
            cancel.set()


    async def _finish(self, body: bytes, received: float) -> Response:
        """Finish (``serving/finishing.py``): checked off the event loop, then answered as a
        stream (every stage and step as it happens, heartbeats between) or, for a client
        that did not ask for one, as one reply at the end."""
        loop = asyncio.get_running_loop()
        accepted = await loop.run_in_executor(self._threads, accept_finish, self.service, body)
        if accepted.streamed:
            return StreamingResponse(
                self._finish_stream(accepted, received), media_type=STREAM_CONTENT_TYPE
            )
        cancel = threading.Event()
        work = loop.run_in_executor(
            self._threads, answer_finish, self.service, accepted, cancel.is_set, received
        )
        try:
            payload = pack(*await work)
        except asyncio.CancelledError:
            cancel.set()
            raise
        return Response(payload, media_type=CONTENT_TYPE)

    async def _finish_stream(self, accepted: AcceptedFinish, received: float):
        cancel, loop = threading.Event(), asyncio.get_running_loop()
        news: asyncio.Queue = asyncio.Queue()

        def heard(progress) -> None:  # on the finishing thread
            loop.call_soon_threadsafe(news.put_nowait, progress)

        work = loop.run_in_executor(
            self._threads, answer_finish, self.service, accepted, cancel.is_set, received, heard
        )
        try:
            yield accepted_record(self.heartbeat_s)
            while not work.done():
                told = asyncio.ensure_future(news.get())
                await asyncio.wait({work, told}, timeout=self.heartbeat_s,
                                   return_when=asyncio.FIRST_COMPLETED)
                if told.done():
                    yield finish_progress_record(told.result())
                else:
                    told.cancel()
                    if not work.done():
                        yield progress_record("finishing", _ms_since(received))
            while not news.empty():
                yield finish_progress_record(news.get_nowait())
            yield _last_record(work)
        finally:
            cancel.set()

def _not_the_batch_bound_warning(record: logging.LogRecord) -> bool:
    """Ray warns that max_batch_size times max_concurrent_batches passes the requests a
    replica takes in; it does not apply here: ``SharedForwards`` joins Ray's batches again, so
    a forward holds up to max_batch_size frames whichever batches they came in."""
    return "max_concurrent_batches" not in record.getMessage()




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

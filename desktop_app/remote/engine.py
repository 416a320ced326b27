"""``RemoteEngine``: the ``FrameEngine`` whose frames render on ``live-canvas serve``.

The worker uses it exactly as the local engine: one ``render`` at a time, ``should_cancel``
polled while it waits, ``export_image`` for the full-quality picture. The server keeps
nothing between requests, so a result carries its own encoded request, and an export sends
it again: the server renders the same frame (same seed, same noise) and decodes it with the
full VAE.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from desktop_app.core.errors import (
    InvalidRequestError,
    LiveCanvasError,
    ModelLoadError,
    ServerRefusedError,
    ServerUnavailableError,
)
from desktop_app.core.tokens import read_token
from desktop_app.core.types import (
    EngineInfo,
    FinishProgress,
    FinishRequest,
    FrameResult,
    RemoteTimings,
    RenderRequest,
    lora_name,
    new_load_id,
)
from desktop_app.core.wire import (
    EXPORT_PATH,
    FRAME_PATH,
    INFO_PATH,
    Reply,
    WireError,
    decode_picture,
    error_body,
    error_message,
    pack,
    read_error,
    read_result_header,
    request_body,
    unpack,
)
from desktop_app.core.wire_finish import FINISH_PATH, finish_body, progress_of
from desktop_app.core.wire_stream import (
    STREAM,
    STREAM_CONTENT_TYPE,
    RecordReader,
    final_record,
)
from desktop_app.remote import region
from desktop_app.remote.address import ServerAddress
from desktop_app.remote.connection import ANSWER_S, Answer, ServerConnection

EXPORT_TIMEOUT_S = 900.0  # an older server's export: a full-size VAE decode on a CPU
_SAY_WAITING_S = 0.25  # how often a connection that waits re-says its progress (to be stopped)
LIVE_REPLY = Reply()  # JPEG at quality 80: see docs/SERVING.md
EXPORT_REPLY = Reply("png", 100)


@dataclass(frozen=True, eq=False)
class SentFrame:
    """What a remote result needs for its export: the request as it was sent (its header
    asking for the full-quality PNG of the model that made it), without the sketch's pixels."""

    export_header: dict
    images: bytes  # the sketch (and the colour image), encoded as they were sent
    request_id: int
    size: int


class RemoteEngine:
    """Frames from a server; call from one thread at a time (one kept-alive connection)."""

    def __init__(
        self,
        connection: ServerConnection,
        info: EngineInfo,
        reply: Reply = LIVE_REPLY,
        streams: bool = False,
    ):
        """``streams``: the server answers frames as a stream of records with heartbeats
        (``core/wire_stream``), so every wait is bounded by the connection's silence limit;
        an older server's frame gets its whole time."""
        self.connection = connection
        self.info = info
        self.reply = reply
        self.streams = streams
        self.may_batch = True  # False: ask a batching server to render each frame alone

    def render(
        self, request: RenderRequest, should_cancel: Callable[[], bool] | None = None
    ) -> FrameResult:
        if request.region is not None:  # only the crop travels (region.py)
            return region.render_region(self, request, should_cancel)
        start = time.perf_counter()
        sent_header, images = request_body(request, self.reply)
        if self.streams:
            sent_header["stream"] = STREAM
        if not self.may_batch:  # render alone on a batching server (the load test's "off")
            sent_header["batch"] = False
        body = pack(sent_header, images)
        encode_ms = (time.perf_counter() - start) * 1000.0
        answer = self.connection.request(
            "POST", FRAME_PATH, body, should_cancel, None if self.streams else ANSWER_S
        )
        reply, picture = self._frame_reply(answer, request.request_id)
        start = time.perf_counter()
        image = _picture(picture, request.size)
        decode_ms = (time.perf_counter() - start) * 1000.0
        # An export sends the same request again, asking for the full-quality PNG of the model
        # that made this picture.
        export_header = {**sent_header, "reply": asdict(EXPORT_REPLY), "model": reply.params.model}
        return FrameResult(
            image=image,
            params=reply.params,
            timings=reply.timings,
            request_id=request.request_id,
            latents=SentFrame(export_header, images, request.request_id, request.size),
            warnings=reply.warnings,
            load_id=self.info.load_id,
            remote=RemoteTimings(
                server=reply.server,
                encode_ms=encode_ms,
                round_trip_ms=answer.round_trip_ms,
                decode_ms=decode_ms,
                bytes_up=answer.bytes_sent,
                bytes_down=len(answer.body),
            ),
        )

    def set_loras(self, loras: tuple, progress: Callable[[str], None] | None = None) -> None:
        """The server fuses the styles, found by name among its own: one it does not have is
        refused here, before any frame asks for it."""
        if not loras:
            return
        answer = self.connection.request("GET", INFO_PATH)
        if answer.status != 200:
            raise _failure(answer.status, answer.body, self.connection.address)
        try:
            offered = {str(name) for name in json.loads(answer.body.decode()).get("styles", [])}
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, TypeError):
            offered = set()
        missing = [lora_name(path) for path, _ in loras if lora_name(path) not in offered]
        if missing:
            raise ModelLoadError(
                f"the server at {self.connection.address.display} has no LoRA style named "
                f"{missing[0]!r} (it has: {', '.join(sorted(offered)) or 'none'})"
            )

    def export_image(
        self, result: FrameResult, should_cancel: Callable[[], bool] | None = None
    ) -> np.ndarray:
        """The frame rendered again on the server and decoded there by the full VAE, as a
        PNG (lossless); a server that now runs another model refuses rather than export a
        different picture."""
        sent = result.latents
        if not isinstance(sent, SentFrame):
            return result.image  # not one of this engine's frames: as it was shown
        body = pack(sent.export_header, sent.images)
        answer = self.connection.request(
            "POST", EXPORT_PATH, body, should_cancel, None if self.streams else EXPORT_TIMEOUT_S
        )
        _, picture = self._frame_reply(answer, sent.request_id)
        return _picture(picture, sent.size)

    def finish(
        self,
        request: FinishRequest,
        progress: Callable[[FinishProgress], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> FrameResult:
        """Finished on the server (``core/wire_finish``): the picture and the sketch go up as
        PNGs, the server's progress records reach ``progress`` as they arrive, and the
        finished picture comes back as a PNG (it exports as it is)."""
        start = time.perf_counter()
        body = finish_body(request)
        encode_ms = (time.perf_counter() - start) * 1000.0
        answer = self.connection.request(
            "POST",
            FINISH_PATH,
            body,
            should_cancel,
            None if self.streams else EXPORT_TIMEOUT_S,
            on_data=_progress_reader(progress),
        )
        reply, picture = self._frame_reply(answer, request.request_id)
        start = time.perf_counter()
        image = _picture(picture, request.target_size)
        decode_ms = (time.perf_counter() - start) * 1000.0
        return FrameResult(
            image=image,
            params=reply.params,
            timings=reply.timings,
            request_id=request.request_id,
            warnings=reply.warnings,
            load_id=self.info.load_id,
            remote=RemoteTimings(
                server=reply.server,
                encode_ms=encode_ms,
                round_trip_ms=answer.round_trip_ms,
                decode_ms=decode_ms,
                bytes_up=answer.bytes_sent,
                bytes_down=len(answer.body),
            ),
        )

    def _frame_reply(self, answer: Answer, request_id: int):
        address = self.connection.address
        if answer.status != 200:
            raise _failure(answer.status, answer.body, address)
        try:
            if answer.content_type == STREAM_CONTENT_TYPE:
                header_json, picture = final_record(answer.body)
                if header_json.get("kind") == "error":
                    status = header_json.get("status")
                    status = status if isinstance(status, int) else 500
                    message = str(header_json.get("error") or f"HTTP {status}")
                    raise _failure(status, error_body(message), address)
            else:
                header_json, picture = unpack(answer.body)
            header = read_result_header(header_json)
        except WireError as err:
            raise ServerUnavailableError(f"the server's reply was unreadable: {err}") from None
        if header.request_id != request_id:
            raise ServerUnavailableError(
                f"the server answered request {header.request_id} to request {request_id}"
            )
        return header, picture

    def close(self) -> None:
        self.connection.close()


def _progress_reader(
    progress: Callable[[FinishProgress], None] | None,
) -> Callable[[bytes], None] | None:
    """What reads a streamed finish's records as they arrive and tells ``progress`` each
    stage and step (the whole answer is read again at its end: a damaged stream is said
    there, once)."""
    if progress is None:
        return None
    reader = RecordReader()
    damaged: list[bool] = []  # set once the stream is damaged: the rest is not read here

    def on_data(chunk: bytes) -> None:
        if damaged:
            return
        try:
            records = reader.feed(chunk)
        except WireError:
            damaged.append(True)
            return
        for header, _payload in records:
            told = progress_of(header) if header.get("kind") == "progress" else None
            if told is not None:
                progress(told)

    return on_data


def _picture(data: bytes, size: int) -> np.ndarray:
    try:
        image = decode_picture(data)
    except WireError as err:
        raise ServerUnavailableError(str(err)) from None
    if image.shape[:2] != (size, size):
        raise ServerUnavailableError(
            f"the server sent a {image.shape[1]}x{image.shape[0]} picture for a {size}x{size} frame"
        )
    return image


def _failure(status: int, body: bytes, address: ServerAddress) -> LiveCanvasError:
    """The error an unsuccessful answer stands for, in the server's own words."""
    message = read_error(body, status)
    if status in (401, 403):
        return ServerRefusedError(f"the server at {address.display} refused us: {message}")
    if status == 404:
        return ServerRefusedError(
            f"{address.url} is not a Live Canvas server (or an older one): {message}"
        )
    if status >= 500:
        if error_message(body) is None:  # not our replica's words: its proxy's
            message = f"{message}; a replica may have stopped, and Ray Serve starts another"
        return ServerUnavailableError(f"the server at {address.display} lost the frame ({message})")
    return InvalidRequestError(message)  # 400, 409, 413, 415, 422: our request, as the server says


def connect(
    url: str,
    token_file: str | None = None,
    ca_file: str | None = None,
    progress: Callable[[str], None] | None = None,
    reply: Reply = LIVE_REPLY,
    silence_s: float | None = None,
) -> RemoteEngine:
    """Ask the server at ``url`` what it runs; the engine that renders there. ``progress`` is
    told again every quarter second while the server is waited for: a caller that wants to
    stop waiting raises from it (as it would from a model load's progress)."""
    address = ServerAddress.parse(url)
    token = read_token(token_file) if token_file else None
    text = f"Connecting to {address.display}…"
    if progress:
        progress(text)
    connection = ServerConnection(address, token, ca_file or None, silence_s=silence_s)
    answer = connection.request("GET", INFO_PATH, should_cancel=_saying(progress, text))
    if answer.status != 200:
        raise _failure(answer.status, answer.body, address)
    try:
        raw = json.loads(answer.body.decode())
        info = EngineInfo(
            model=str(raw["model"]),
            family=str(raw["family"]),
            device=str(raw["device"]),
            dtype=str(raw["dtype"]),
            preview_decoder=str(raw.get("preview_decoder", "")),
            is_noise=bool(raw.get("is_noise", False)),
            warnings=tuple(str(w) for w in raw.get("warnings", ())),
            load_id=new_load_id(),
            licence=str(raw.get("licence", "")),
            server=address.display,
        )
        streams = raw.get("stream", 0) == STREAM
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise ServerRefusedError(f"{address.url} did not answer as a Live Canvas server") from None
    return RemoteEngine(connection, info, reply, streams)


def _saying(progress: Callable[[str], None] | None, text: str) -> Callable[[], bool]:
    """A ``should_cancel`` that says ``text`` to ``progress`` now and then (and never cancels
    by itself: ``progress`` raises to stop the wait)."""
    last = time.monotonic()

    def should_cancel() -> bool:
        nonlocal last
        if progress is not None and time.monotonic() - last >= _SAY_WAITING_S:
            last = time.monotonic()
            progress(text)
        return False

    return should_cancel

"""One replica's work, without Ray: who may ask, what a body may hold, the frame itself.

Everything a client sends is checked before it costs anything: the token first (a request
without it gets 401 and nothing else is read), then the declared type and length (413 before
a byte of a 50 MB body is decoded), the container, the image's type and dimensions (read from
its header), and the settings by the same rules and words as a local frame (``accept``).
Only then does the frame wait for the engine, which renders one frame at a time
(``answer``); a streamed reply says "accepted" between the two, and ``FrameProgress`` is
what its heartbeats report meanwhile.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from desktop_app.core.errors import (
    DeviceOutOfMemoryError,
    LiveCanvasError,
    ModelLoadError,
    RenderCancelled,
)
from desktop_app.core.metadata import png_info
from desktop_app.core.region import Box
from desktop_app.core.settings_table import MAX_PROMPT_CHARS
from desktop_app.core.types import FrameEngine, RenderRequest, ServerTimings, lora_name
from desktop_app.core.wire import (
    CONTENT_TYPE,
    EXPORT_PATH,
    FRAME_PATH,
    INFO_PATH,
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    MAX_SIDE,
    PROTOCOL,
    FrameCall,
    WireError,
    decode_images,
    encode_picture,
    pack,
    read_call,
    read_crop,
    result_header,
    unpack,
)
from desktop_app.core.wire_finish import FINISH, FINISH_PATH
from desktop_app.core.wire_stream import STREAM, wants_stream
from desktop_app.models.styles import list_styles, resolve_style


@dataclass(frozen=True)
class AcceptedFrame:
    """A frame read and checked, not yet rendered."""

    call: FrameCall
    request: RenderRequest  # the call's, with the server's own files for its styles
    export: bool
    decode_ms: float
    streamed: bool  # the client reads a streamed reply (``wire_stream``)
    crop: Box | None = None  # a region frame's crop: only it is rendered and sent back
    artist: str = ""  # the name of the token it came with (``serve --tokens-file``)
    may_batch: bool = True  # False: the client asked it to render alone (``"batch": false``)


@dataclass
class FrameProgress:
    """Where a frame is, written by the thread that renders it and read by the heartbeat."""

    stage: str = "waiting"  # for the engine (another frame renders), "rendering", "encoding"


def token_digest(token: str) -> str:
    """What a replica keeps of the token: its SHA-256 (the token itself never leaves the
    machine that started the server, not even into Ray's cluster state)."""
    return hashlib.sha256(token.encode()).hexdigest()


class FrameService:
    def __init__(
        self,
        engine: FrameEngine,
        token_sha256: str | None = None,
        replica: str = "",
        styles: tuple[str, ...] = (),
    ):
        """``styles``: LoRA files offered by name (``serve --lora``), beside the server's
        styles folder; a client names a style, never a path here."""
        self.engine = engine
        self.replica = replica
        self.styles = {lora_name(path): path for path in styles}
        self._token_sha256 = token_sha256
        self._engine_lock = threading.Lock()  # the engine renders one frame at a time

    # --- checks, in the order a request meets them -------------------------------------------
    def authorize(self, authorization: str | None) -> None:
        if self._token_sha256 is None:
            return
        if not authorization:
            raise WireError(
                401, "this server needs its token: give the client --token-file with its token"
            )
        scheme, _, given = authorization.partition(" ")
        digest = hashlib.sha256(given.strip().encode()).hexdigest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(digest, self._token_sha256):
            raise WireError(401, "the token is not this server's: check the client's --token-file")

    @staticmethod
    def check_upload(content_type: str | None, content_length: str | None) -> None:
        media = (content_type or "").split(";")[0].strip().lower()
        if media != CONTENT_TYPE:
            raise WireError(
                415, f"the body must be {CONTENT_TYPE}, not {content_type or 'untyped'}"
            )
        if content_length is None:
            return  # chunked: the reader counts instead
        if not content_length.strip().isdigit():
            raise WireError(400, f"bad Content-Length {content_length!r}")
        if int(content_length) > MAX_BODY_BYTES:
            raise WireError(413, too_large(int(content_length)))

    def info(self) -> dict[str, Any]:
        info = self.engine.info
        return {
            "protocol": PROTOCOL,
            "stream": STREAM,  # frames may be answered as a stream of records (wire_stream)
            "finish": FINISH,  # POST /v1/finish (wire_finish, serving/finishing.py)
            "model": info.model,
            "family": info.family,
            "device": info.device,
            "dtype": info.dtype,
            "preview_decoder": info.preview_decoder,
            "is_noise": info.is_noise,
            "warnings": list(info.warnings),
            "licence": info.licence,
            "replica": self.replica,
            "styles": sorted({*self.styles, *(lora_name(p.name) for p in list_styles())}),
            "limits": {
                "body_bytes": MAX_BODY_BYTES,
                "header_bytes": MAX_HEADER_BYTES,
                "side": MAX_SIDE,
                "prompt_chars": MAX_PROMPT_CHARS,
            },
        }

    # --- the frame ---------------------------------------------------------------------------
    def frame(
        self,
        body: bytes,
        export: bool = False,
        should_cancel: Callable[[], bool] | None = None,
        received: float | None = None,
    ) -> bytes:
        """The plain reply body for a frame (or an export: the full-VAE picture as a PNG with
        the same text chunks as a local export). ``received`` is when the request arrived
        (``time.perf_counter()``), for the handler time the client subtracts."""
        return pack(*self.answer(self.accept(body, export), should_cancel, received))

    def accept(self, body: bytes, export: bool = False) -> AcceptedFrame:
        """Everything a frame can be refused for before it costs the engine anything
        (WireError with its status): what a streamed reply checks before it says "accepted"."""
        start = time.perf_counter()
        header, payload = unpack(body)
        call = read_call(header, *decode_images(header, payload))
        request = replace(call.request, loras=self._style_files(call.request.loras))
        if export and call.model is not None and call.model != self.engine.info.model:
            raise WireError(
                409,
                f"the picture was made with {call.model}, and this server now runs "
                f"{self.engine.info.model}: it cannot be exported the same",
            )
        return AcceptedFrame(
            call,
            request,
            export,
            _ms_since(start),
            wants_stream(header),
            crop=self._crop(header, request, export),
            may_batch=header.get("batch") is not False,
        )

    def answer(
        self,
        frame: AcceptedFrame,
        should_cancel: Callable[[], bool] | None = None,
        received: float | None = None,
        progress: FrameProgress | None = None,
    ) -> tuple[dict[str, Any], bytes]:
        """The reply's header and picture for an accepted frame; ``progress`` is told the
        stage it is in (a streamed reply's heartbeats say it)."""
        received = received if received is not None else time.perf_counter()
        progress = progress or FrameProgress()
        waiting = time.perf_counter()
        with self._engine_lock:
            queue_ms = _ms_since(waiting)
            progress.stage = "rendering"
            if frame.crop is not None:
                result, image = self._render_crop(frame.request, frame.crop, should_cancel)
            else:
                result, image = self._render(frame.request, frame.export, should_cancel)
        progress.stage = "encoding"
        return self.reply(frame, result, image, ServerTimings(queue_ms=queue_ms), received)

    def reply(
        self, frame: AcceptedFrame, result, image, server: ServerTimings, received: float
    ) -> tuple[dict[str, Any], bytes]:
        """The reply's header and picture for a rendered frame; ``server`` says its queue
        and batch, the rest of its timings are filled in here."""
        start = time.perf_counter()
        reply = frame.call.reply
        if frame.export:
            picture = encode_picture(image, "png", 100, png_info(result.params))
        else:
            picture = encode_picture(image, reply.format, reply.quality)
        server = replace(
            server,
            replica=self.replica,
            decode_ms=frame.decode_ms,
            encode_ms=_ms_since(start),
            handler_ms=_ms_since(received),
        )
        header = result_header(
            frame.call.request.request_id, result.params, result.timings, server, result.warnings
        )
        return header, picture

    def _style_files(self, loras: tuple) -> tuple:
        """The server's own files for the style names a client asked for."""
        found = []
        for name, weight in loras:
            name = lora_name(name)
            path = self.styles.get(name)
            if path is None:
                try:
                    path = str(resolve_style(name))
                except ModelLoadError:
                    offered = ", ".join(self.info()["styles"]) or "none"
                    raise WireError(
                        422, f"this server has no LoRA style named {name!r} (it has: {offered})"
                    ) from None
            found.append((path, weight))
        return tuple(found)

    @staticmethod
    def _crop(header: dict, request: RenderRequest, export: bool) -> Box | None:
        """A region frame's crop box (None for a whole frame), checked before it waits."""
        crop = read_crop(header, request)
        if crop is not None and export:
            raise WireError(400, "a region frame's picture is exported as it is shown")
        return crop

    def _render_crop(self, request: RenderRequest, box: Box, should_cancel):
        """A region frame's crop, on an engine that renders crops (the local one)."""
        render_crop = getattr(self.engine, "render_crop", None)
        if render_crop is None:
            raise WireError(422, "this server's engine does not render region frames")
        try:
            result = render_crop(request, box, should_cancel)
        except RenderCancelled:
            raise
        except LiveCanvasError as err:  # out of memory, a crop the model cannot do
            raise WireError(422, str(err)) from None
        return result, result.image

    def _render(self, request, export: bool, should_cancel):
        try:
            result = self.engine.render(request, should_cancel)
            image = self.engine.export_image(result, should_cancel) if export else result.image
        except RenderCancelled:
            raise
        except DeviceOutOfMemoryError as err:
            raise WireError(422, str(err)) from None
        except LiveCanvasError as err:  # a request the model cannot do (colour without encoder)
            raise WireError(422, str(err)) from None
        return result, image


ENDPOINTS = {INFO_PATH: "GET", FRAME_PATH: "POST", EXPORT_PATH: "POST", FINISH_PATH: "POST"}


def check_endpoint(method: str, path: str) -> None:
    """404 for a path the protocol does not have, 405 for the wrong method."""
    wanted = ENDPOINTS.get(path)
    if wanted is None:
        raise WireError(404, f"there is nothing at {path} on a Live Canvas server")
    if method != wanted:
        raise WireError(405, f"{path} takes {wanted}, not {method}")


def too_large(length: int) -> str:
    return f"the request is {length:,} bytes; the largest a server takes is {MAX_BODY_BYTES:,}"


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0

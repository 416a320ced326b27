"""The frame protocol between ``live-canvas`` and ``live-canvas serve``: one HTTP/1.1 request
per frame on a kept-alive connection, with a compact binary body both ways.

A body is ``LCF1``, the length of a JSON header (4 bytes, big-endian), the header (UTF-8
JSON), then one image. Up goes the sketch, losslessly compressed (WebP lossless: a 512² line
drawing is a few KB) with the frame's settings, the picture format wanted and a request id;
down comes the picture (JPEG or WebP at the quality asked for, PNG for exports) with its
parameters and the server's timing breakdown. Errors come back as JSON ``{"error": line}``.

The server trusts nothing in a body: lengths, JSON, image types and sizes are checked before
any pixel is decoded, and the settings by the same rules as a local frame (one-line messages
from ``settings_table``). Neither torch nor Qt is needed on either side of this module.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
from PIL import Image

from desktop_app.core.region import Box, box_from
from desktop_app.core.settings_table import FRAME_SETTINGS, SETTINGS
from desktop_app.core.types import (
    FrameTimings,
    GenerationParams,
    RenderRequest,
    ServerTimings,
    lora_name,
)

PROTOCOL = 1
CONTENT_TYPE = "application/x-live-canvas-frame"
FRAME_PATH = "/v1/frame"
EXPORT_PATH = "/v1/export"
INFO_PATH = "/v1/info"
DEFAULT_PORT = 8470
MAGIC = b"LCF1"
MAX_BODY_BYTES = 16 * 1024 * 1024  # a 2048² colour sketch compresses far below this
MAX_HEADER_BYTES = 64 * 1024  # settings and a 4,000-character prompt fit many times over
MAX_SIDE = 4096  # of an uploaded sketch, in pixels
PICTURE_FORMATS = ("jpeg", "webp", "png")
DEFAULT_FORMAT = "jpeg"  # 0.5 ms to encode a 512² picture here, against 6 ms for WebP
DEFAULT_QUALITY = 80
_SKETCH_FORMATS = ("PNG", "WEBP")  # lossless only: a sketch must arrive as drawn
_LENGTH = struct.Struct(">I")


class WireError(Exception):
    """A body or reply that breaks the protocol; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --- the container --------------------------------------------------------------------------


def pack(header: dict[str, Any], payload: bytes) -> bytes:
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    return b"".join((MAGIC, _LENGTH.pack(len(text)), text, payload))


def unpack(body: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and the payload of ``body``; WireError(400) for anything malformed."""
    if len(body) < len(MAGIC) + _LENGTH.size or not body.startswith(MAGIC):
        raise WireError(400, "the body is not a Live Canvas frame (it must start with LCF1)")
    (length,) = _LENGTH.unpack_from(body, len(MAGIC))
    start = len(MAGIC) + _LENGTH.size
    if length > MAX_HEADER_BYTES:
        raise WireError(400, f"the frame's header is {length} bytes, over {MAX_HEADER_BYTES}")
    if start + length > len(body):
        raise WireError(400, "the frame is truncated: its header is cut short")
    try:
        header = json.loads(body[start : start + length].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WireError(400, f"the frame's header is not valid JSON ({err})") from None
    if not isinstance(header, dict):
        raise WireError(400, "the frame's header must be a JSON object")
    return header, body[start + length :]


# --- images ---------------------------------------------------------------------------------


def encode_sketch(sketch: np.ndarray) -> bytes:
    """WebP lossless at its fastest effort: for 512² line art about 2 ms and 4-7 KB, where
    PNG takes 3.7 ms and 13 KB (a grey-only PNG, 1.4 ms but 9-12 KB, then costs the server
    as much to turn back into RGB: no faster end to end; measured in docs/SERVING.md)."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(sketch)).save(
        out, "WEBP", lossless=True, quality=0, method=0
    )
    return out.getvalue()


def decode_sketch(data: bytes) -> np.ndarray:
    """An uploaded sketch as RGB uint8, refusing what is not a lossless image of sane size
    before decoding a pixel (the header alone says the type and the dimensions)."""
    if not data:
        raise WireError(400, "the frame carries no sketch image")
    too_large = WireError(413, f"the sketch is larger than {MAX_SIDE}x{MAX_SIDE} pixels")
    try:
        with Image.open(io.BytesIO(data), formats=_SKETCH_FORMATS) as img:
            width, height = img.size
            if width > MAX_SIDE or height > MAX_SIDE:
                raise WireError(
                    413,
                    f"the sketch is {width}x{height}; the largest allowed is {MAX_SIDE}x{MAX_SIDE}",
                )
            return np.array(img.convert("RGB"))  # writable: the engine takes it as a tensor
    except WireError:
        raise
    except Image.DecompressionBombError:  # dimensions far past any limit, said by the header
        raise too_large from None
    except Exception as err:  # noqa: BLE001 - any decoder failure is the sender's
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise WireError(400, f"the sketch is not a readable PNG or WebP image ({reason})") from None


def encode_picture(image: np.ndarray, fmt: str, quality: int, pnginfo: Any = None) -> bytes:
    out = io.BytesIO()
    pil = Image.fromarray(np.ascontiguousarray(image))
    if fmt == "jpeg":
        pil.save(out, "JPEG", quality=quality)
    elif fmt == "webp":
        pil.save(out, "WEBP", quality=quality, method=0)
    else:
        pil.save(out, "PNG", pnginfo=pnginfo, compress_level=1 if pnginfo is None else 6)
    return out.getvalue()


def decode_picture(data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            # One copy, writable (as a local frame is); a JPEG or WebP is RGB already.
            return np.array(img if img.mode == "RGB" else img.convert("RGB"))
    except Exception as err:  # noqa: BLE001 - a damaged reply
        raise WireError(502, f"the server's picture could not be read ({err})") from None


# --- what a frame asks for ------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """How the picture should come back."""

    format: str = DEFAULT_FORMAT
    quality: int = DEFAULT_QUALITY


@dataclass(frozen=True)
class FrameCall:
    """A decoded request: the frame, the reply wanted and, for an export, the model the
    picture was made with (a server that now runs another must not export a different one)."""

    request: RenderRequest
    reply: Reply
    model: str | None = None


def request_header(
    request: RenderRequest, reply: Reply | None = None, model: str | None = None
) -> dict[str, Any]:
    reply = reply or Reply()
    header: dict[str, Any] = {
        "protocol": PROTOCOL,
        "id": request.request_id,
        "settings": {name: getattr(request, name) for name in FRAME_SETTINGS},
        "reply": {"format": reply.format, "quality": reply.quality},
    }
    # A server knows LoRA styles by name (its styles folder): the client's paths stay here.
    header["settings"]["loras"] = [[lora_name(path), weight] for path, weight in request.loras]
    if model is not None:
        header["model"] = model
    return header


def request_body(
    request: RenderRequest, reply: Reply | None = None, model: str | None = None
) -> tuple[dict[str, Any], bytes]:
    """The header and the images of ``request``: the sketch, then the colour image when there
    is one (their lengths in the header's ``images``)."""
    header = request_header(request, reply, model)
    images = [encode_sketch(request.sketch)]
    if request.colour is not None:
        images.append(encode_sketch(request.colour))
        header["images"] = [len(image) for image in images]
    return header, b"".join(images)


def decode_images(header: dict[str, Any], payload: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """The sketch and the colour image (or None) of a request's payload."""
    sizes = header.get("images")
    if sizes is None:
        return decode_sketch(payload), None
    if (
        not isinstance(sizes, list)
        or len(sizes) not in (1, 2)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes)
        or sum(sizes) != len(payload)
    ):
        raise WireError(400, "the frame's 'images' does not match the images it carries")
    sketch = decode_sketch(payload[: sizes[0]])
    colour = decode_sketch(payload[sizes[0] :]) if len(sizes) == 2 else None
    return sketch, colour


def crop_body(
    request: RenderRequest, box: Box, reply: Reply | None = None
) -> tuple[dict[str, Any], bytes]:
    """A region frame as a client sends it (only the crop travels): ``request`` is the frame
    with the crop of the page's sketch as its sketch and, in colour mode, the crop of the kept
    picture as its colour image; the header's ``crop`` says where the box lies on the page
    (``size``). The reply's picture is the rendered crop, which the client pastes."""
    header, images = request_body(request, reply)
    header["crop"] = {"box": box.as_list()}
    return header, images


def read_crop(header: dict[str, Any], request: RenderRequest) -> Box | None:
    """The crop box of a region frame's request (None for a whole frame), checked against the
    page and the images it came with; WireError(400) for a bad one."""
    from desktop_app.core.errors import InvalidRequestError

    crop = header.get("crop")
    if crop is None:
        return None
    if not isinstance(crop, dict):
        raise WireError(400, "'crop' must be an object with a 'box'")
    try:
        box = box_from(crop.get("box"), request.size)
    except InvalidRequestError as err:
        raise WireError(400, str(err)) from None
    for image, what in ((request.sketch, "sketch"), (request.colour, "kept picture")):
        if image is not None and image.shape[:2] != (box.height, box.width):
            raise WireError(
                400, f"the crop's {what} is {image.shape[1]}x{image.shape[0]}, and its box "
                f"{box.width}x{box.height}"
            )
    if request.mode == "colour" and request.colour is None:
        raise WireError(400, "a colour-mode crop needs the kept picture's crop")
    return box


def read_call(
    header: dict[str, Any], sketch: np.ndarray, colour: np.ndarray | None = None
) -> FrameCall:
    """The frame ``header`` asks for; WireError(400) naming the first thing wrong, in the
    words a local frame would use for a bad setting."""
    from desktop_app.core.errors import InvalidRequestError

    settings = header.get("settings")
    if not isinstance(settings, dict):
        raise WireError(400, "the frame's header has no 'settings' object")
    unknown = sorted(set(settings) - set(FRAME_SETTINGS))
    if unknown:
        raise WireError(400, f"unknown setting {unknown[0]!r} (is the server older than the app?)")
    request_id = header.get("id", 0)
    if not isinstance(request_id, int) or isinstance(request_id, bool) or request_id < 0:
        raise WireError(400, f"the request id must be a whole number >= 0, got {request_id!r}")
    if "loras" in settings:
        settings = {**settings, "loras": SETTINGS["loras"].parse_stored(settings["loras"])}
    try:
        request = RenderRequest(sketch=sketch, colour=colour, request_id=request_id, **settings)
    except InvalidRequestError as err:
        raise WireError(400, str(err)) from None
    model = header.get("model")
    if model is not None and not isinstance(model, str):
        raise WireError(400, "'model' must be text")
    return FrameCall(request, _read_reply(header.get("reply", {})), model)


def _read_reply(raw: Any) -> Reply:
    if not isinstance(raw, dict):
        raise WireError(400, "'reply' must be an object with 'format' and 'quality'")
    fmt = raw.get("format", DEFAULT_FORMAT)
    quality = raw.get("quality", DEFAULT_QUALITY)
    if fmt not in PICTURE_FORMATS:
        raise WireError(
            400, f"reply format must be one of {', '.join(PICTURE_FORMATS)}, got {fmt!r}"
        )
    if not isinstance(quality, int) or isinstance(quality, bool) or not 1 <= quality <= 100:
        raise WireError(400, f"reply quality must be a whole number from 1 to 100, got {quality!r}")
    return Reply(fmt, quality)


# --- what comes back ------------------------------------------------------------------------


def result_header(
    request_id: int,
    params: GenerationParams,
    timings: FrameTimings,
    server: ServerTimings,
    warnings_: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "protocol": PROTOCOL,
        "id": request_id,
        "params": asdict(params),
        "timings": asdict(timings),
        "server": asdict(server),
        "warnings": list(warnings_),
    }


@dataclass(frozen=True)
class ResultHeader:
    request_id: int
    params: GenerationParams
    timings: FrameTimings
    server: ServerTimings
    warnings: tuple[str, ...]


def read_result_header(header: dict[str, Any]) -> ResultHeader:
    """A reply's header; WireError(502) when the server sent something we cannot read."""
    try:
        params = _dataclass_from(GenerationParams, header["params"])
        return ResultHeader(
            request_id=int(header["id"]),
            params=replace(params, loras=tuple(_lora_used(item) for item in params.loras)),
            timings=_dataclass_from(FrameTimings, header["timings"]),
            server=_dataclass_from(ServerTimings, header["server"]),
            warnings=tuple(str(w) for w in header.get("warnings", ())),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise WireError(
            502, f"the server's reply is not one this app understands ({err})"
        ) from None


def _lora_used(raw: Any) -> tuple[str, float, str]:
    name, weight, short_hash = raw
    return str(name), float(weight), str(short_hash)


def _dataclass_from(cls: type, raw: Any) -> Any:
    """``cls`` from a JSON object, ignoring keys a newer server may add."""
    if not isinstance(raw, dict):
        raise TypeError(f"{cls.__name__} must be an object")
    names = {f.name for f in fields(cls)}
    return cls(**{key: value for key, value in raw.items() if key in names})


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def error_message(body: bytes) -> str | None:
    """The one-line message of an error in this protocol's own form, else None."""
    try:
        message = json.loads(body.decode()).get("error")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return None
    return message.splitlines()[0] if isinstance(message, str) and message else None


def read_error(body: bytes, status: int) -> str:
    """The message of an error reply, or what can be said of one without it (a proxy's)."""
    message = error_message(body)
    if message is not None:
        return message
    text = body.decode(errors="replace").strip().splitlines()
    return f"HTTP {status}" + (f": {text[0][:200]}" if text else "")

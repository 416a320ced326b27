"""Finish through ``live-canvas serve`` (``POST /v1/finish``), on the LCF1 container of
``wire`` and the streamed replies of ``wire_stream``.

Up goes a header with the finish's settings (``finish``: prompt, seed, control scale, LoRA
styles by name, scale, steps, strength), the first pass's parameters (``first_pass``, or
null) and the lengths of its two images (``images``), then the images: the picture to finish
and the sketch, both PNG (lossless: the picture is refined as it was shown). The server checks
them by the same rules and words as a local finish.

Down comes, for a client that asks for a stream (as every Finish client does: a finish takes
seconds to minutes), "accepted", a ``progress`` record at each stage and step (``stage``,
``step``, ``steps``, ``elapsed_ms``, ``left_s``) and heartbeats between them, then the
``result`` record: the frame reply's header with the finished picture as a PNG carrying its
parameters; or an ``error`` record. Neither side needs anything but this module, ``wire`` and
``wire_stream``.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np

from desktop_app.core.settings_table import SETTINGS
from desktop_app.core.types import FinishProgress, FinishRequest, GenerationParams, lora_name
from desktop_app.core.wire import (
    PROTOCOL,
    WireError,
    _dataclass_from,
    _lora_used,
    decode_sketch,
    encode_picture,
    pack,
    unpack,
)
from desktop_app.core.wire_stream import STREAM, record

FINISH_PATH = "/v1/finish"
FINISH = 1  # the version of Finish a server speaks (``GET /v1/info``'s "finish")
_SETTINGS = ("prompt", "seed", "control_scale", "loras", "scale", "steps", "strength")


def finish_body(request: FinishRequest) -> bytes:
    """The request body of ``request``, asking for a streamed reply."""
    settings: dict[str, Any] = {name: getattr(request, name) for name in _SETTINGS}
    settings["loras"] = [[lora_name(path), weight] for path, weight in request.loras]
    images = [encode_picture(image, "png", 100) for image in (request.picture, request.sketch)]
    header = {
        "protocol": PROTOCOL,
        "id": request.request_id,
        "stream": STREAM,
        "finish": settings,
        "first_pass": None if request.first_pass is None else asdict(request.first_pass),
        "images": [len(image) for image in images],
    }
    return pack(header, b"".join(images))


def read_finish(body: bytes) -> tuple[FinishRequest, bool]:
    """The finish a body asks for (its styles by name) and whether the client reads a stream;
    WireError(400) naming the first thing wrong, in a local finish's words."""
    from desktop_app.core.errors import InvalidRequestError
    from desktop_app.core.wire_stream import wants_stream

    header, payload = unpack(body)
    settings = header.get("finish")
    if not isinstance(settings, dict):
        raise WireError(400, "the finish's header has no 'finish' object")
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise WireError(400, f"unknown finish setting {unknown[0]!r} (is the server older?)")
    request_id = header.get("id", 0)
    if not isinstance(request_id, int) or isinstance(request_id, bool) or request_id < 0:
        raise WireError(400, f"the request id must be a whole number >= 0, got {request_id!r}")
    picture, sketch = _images(header.get("images"), payload)
    if "loras" in settings:
        settings = {**settings, "loras": SETTINGS["loras"].parse_stored(settings["loras"])}
    try:
        first = header.get("first_pass")
        first_pass = None if first is None else _dataclass_from(GenerationParams, first)
        if first_pass is not None:
            loras = tuple(_lora_used(item) for item in first_pass.loras)
            first_pass = replace(first_pass, loras=loras)
        request = FinishRequest(
            picture=picture, sketch=sketch, first_pass=first_pass, request_id=request_id,
            **settings,
        )
    except InvalidRequestError as err:
        raise WireError(400, str(err)) from None
    except (TypeError, ValueError) as err:
        raise WireError(400, f"the finish's header cannot be read ({err})") from None
    return request, wants_stream(header)


def progress_record(progress: FinishProgress) -> bytes:
    """A ``progress`` record of a streamed finish: a stage's step, with the time left."""
    return record({
        "kind": "progress",
        "stage": progress.stage,
        "step": progress.step,
        "steps": progress.steps,
        "elapsed_ms": round(progress.elapsed_s * 1000.0, 1),
        "left_s": None if progress.left_s is None else round(progress.left_s, 2),
    })


def progress_of(header: dict[str, Any]) -> FinishProgress | None:
    """The ``FinishProgress`` a progress record tells (None for a bare heartbeat)."""
    step, steps, left = header.get("step"), header.get("steps"), header.get("left_s")
    if not isinstance(step, int) or not isinstance(steps, int):
        return None
    try:
        return FinishProgress(
            stage=str(header.get("stage", "")),
            step=step,
            steps=steps,
            elapsed_s=float(header.get("elapsed_ms", 0.0)) / 1000.0,
            left_s=None if left is None else float(left),
        )
    except (TypeError, ValueError):
        return None


def _images(sizes: Any, payload: bytes) -> tuple[np.ndarray, np.ndarray]:
    if (
        not isinstance(sizes, list)
        or len(sizes) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes)
        or sum(sizes) != len(payload)
    ):
        raise WireError(400, "the finish's 'images' does not match the picture and sketch it "
                             "carries")
    return decode_sketch(payload[: sizes[0]]), decode_sketch(payload[sizes[0] :])



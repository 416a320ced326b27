"""Region frames through a server: only the crop travels each way (docs/REGIONS.md).

The client places the region on the page and finds the crop as the local engine does
(``core/region.py``), sends the crop of the sketch (and in colour mode of the kept picture,
colour mode's starting point) with the box, and pastes the server's rendered crop over the
kept picture with the feather. The server renders it with the page's noise slice
(``Engine.render_crop``), so with a lossless reply the picture is the local engine's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from desktop_app.core.errors import ServerUnavailableError
from desktop_app.core.region import compose, crop_box, fit_sketch, mask_at_size
from desktop_app.core.types import FrameResult, RemoteTimings, RenderRequest
from desktop_app.core.wire import FRAME_PATH, WireError, crop_body, decode_picture, pack
from desktop_app.core.wire_stream import STREAM
from desktop_app.remote.connection import ANSWER_S


def render_region(
    remote, request: RenderRequest, should_cancel: Callable[[], bool] | None
) -> FrameResult:
    """``request`` (a region frame) on ``remote`` (a ``RemoteEngine``): the whole composed
    picture, as ``Engine.render`` gives it."""
    assert request.region is not None and request.keep is not None, "RenderRequest checks both"
    start = time.perf_counter()
    mask = mask_at_size(request.region, request.size)
    box = crop_box(mask, request.feather)
    colour = request.mode == "colour"
    crop = dataclasses.replace(
        request,
        sketch=np.ascontiguousarray(box.cut(fit_sketch(request.sketch, request.size))),
        colour=np.ascontiguousarray(box.cut(request.keep)) if colour else None,
        keep=None,
        region=None,
    )
    header, images = crop_body(crop, box, remote.reply)
    if remote.streams:
        header["stream"] = STREAM
    body = pack(header, images)
    encode_ms = (time.perf_counter() - start) * 1000.0
    answer = remote.connection.request(
        "POST", FRAME_PATH, body, should_cancel, None if remote.streams else ANSWER_S
    )
    reply, picture = remote._frame_reply(answer, request.request_id)
    start = time.perf_counter()
    try:
        pixels = decode_picture(picture)
    except WireError as err:
        raise ServerUnavailableError(str(err)) from None
    if pixels.shape[:2] != (box.height, box.width):
        raise ServerUnavailableError(
            f"the server sent a {pixels.shape[1]}x{pixels.shape[0]} picture for a "
            f"{box.width}x{box.height} crop (region frames need a server as new as the app)"
        )
    image = compose(request.keep, pixels, box, mask, request.feather)
    decode_ms = (time.perf_counter() - start) * 1000.0
    return FrameResult(
        image=image,
        params=dataclasses.replace(reply.params, composed=True),
        timings=reply.timings,
        request_id=request.request_id,
        latents=None,  # a composed picture exports as it is shown
        warnings=reply.warnings,
        load_id=remote.info.load_id,
        remote=RemoteTimings(
            server=reply.server,
            encode_ms=encode_ms,
            round_trip_ms=answer.round_trip_ms,
            decode_ms=decode_ms,
            bytes_up=answer.bytes_sent,
            bytes_down=len(answer.body),
        ),
    )

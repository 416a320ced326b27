"""The frame protocol: what a server accepts and refuses, in the words a local frame uses."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.types import FrameTimings, GenerationParams, RenderRequest, ServerTimings
from desktop_app.core.wire import (
    MAX_HEADER_BYTES,
    MAX_SIDE,
    Reply,
    WireError,
    decode_picture,
    decode_sketch,
    encode_picture,
    encode_sketch,
    pack,
    read_call,
    read_error,
    read_result_header,
    request_header,
    result_header,
    unpack,
)


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def test_a_sketch_arrives_exactly_as_drawn(sketch):
    assert np.array_equal(decode_sketch(encode_sketch(sketch)), sketch)
    coloured = sketch.copy()
    coloured[10:40, 10:40] = (200, 30, 90)
    data = encode_sketch(coloured)
    assert len(data) < 20_000  # line art compresses to a few KB
    assert np.array_equal(decode_sketch(data), coloured)
    assert np.array_equal(decode_sketch(_png(coloured)), coloured)


def test_the_container_round_trips_and_refuses_what_is_not_one():
    header = {"id": 7, "settings": {"prompt": "ünïcode ✓"}}
    assert unpack(pack(header, b"IMG")) == (header, b"IMG")
    body = pack(header, b"IMG")
    cases = {
        b"": "not a Live Canvas frame",
        b"GIF89a....": "not a Live Canvas frame",
        body[:10]: "truncated",
        b"LCF1" + struct.pack(">I", MAX_HEADER_BYTES + 1) + b"{}": "over",
        b"LCF1" + struct.pack(">I", 3) + b"{x}": "not valid JSON",
        b"LCF1" + struct.pack(">I", 2) + b"[]": "must be a JSON object",
        b"LCF1" + struct.pack(">I", 2) + b"\xff\xfe": "not valid JSON",
    }
    for bad, words in cases.items():
        with pytest.raises(WireError, match=words) as caught:
            unpack(bad)
        assert caught.value.status == 400


def test_sketches_that_are_not_lossless_images_or_are_too_large_are_refused(sketch):
    jpeg = io.BytesIO()
    Image.fromarray(sketch).save(jpeg, "JPEG")
    for data, status, words in (
        (b"", 400, "no sketch"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 400, "not a readable"),
        (jpeg.getvalue(), 400, "not a readable PNG or WebP"),  # lossy: lines would blur
        (_png(sketch)[:200], 400, "not a readable"),  # truncated
        (_png(np.zeros((1, MAX_SIDE + 1, 3), np.uint8)), 413, f"{MAX_SIDE + 1}x1"),
    ):
        with pytest.raises(WireError, match=words) as caught:
            decode_sketch(data)
        assert caught.value.status == status


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB pixels, with next to no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [MAX_SIDE + 1, 60_000])  # past our limit; past Pillow's too
def test_a_decompression_bomb_is_refused_from_its_header_alone(side):
    with pytest.raises(WireError) as caught:
        decode_sketch(_png_claiming(side, side))
    assert caught.value.status == 413


def _message(**settings) -> str:
    """What a local frame says of ``settings``."""
    with pytest.raises(InvalidRequestError) as caught:
        RenderRequest(sketch=np.zeros((8, 8, 3), np.uint8), **settings)
    return str(caught.value)


@pytest.mark.parametrize(
    "settings",
    [
        {"control_scale": 1e9},
        {"size": 100},
        {"steps": 0},
        {"seed": -1},
        {"seed": 1.5},
        {"mode": "nope"},
        {"strength": 0.0},
        {"prompt": "x" * 4001},
        {"control_scale": "1"},
    ],
)
def test_bad_settings_are_refused_in_a_local_frames_words(settings, sketch):
    header = request_header(RenderRequest(sketch=sketch))
    header["settings"].update(settings)
    with pytest.raises(WireError) as caught:
        read_call(json.loads(json.dumps(header)), sketch)
    assert caught.value.status == 400
    assert str(caught.value) == _message(**settings)


def test_a_request_round_trips_and_unknown_or_malformed_fields_are_named(sketch):
    request = RenderRequest(sketch=sketch, prompt="a boat", seed=42, size=256, request_id=9)
    call = read_call(request_header(request, Reply("webp", 60), model="tiny"), sketch)
    assert call.request.settings_key() == request.settings_key()
    assert call.request.request_id == 9 and call.reply == Reply("webp", 60)
    assert call.model == "tiny"
    good = request_header(request)
    for change, words in (
        ({"settings": {"lora": "x"}}, "unknown setting 'lora'"),
        ({"settings": None}, "no 'settings'"),
        ({"id": -3}, "request id"),
        ({"id": True}, "request id"),
        ({"reply": {"format": "gif"}}, "reply format"),
        ({"reply": {"quality": 0}}, "reply quality"),
        ({"reply": "jpeg"}, "'reply' must be an object"),
        ({"model": 5}, "'model' must be text"),
    ):
        with pytest.raises(WireError, match=words):
            read_call({**good, **change}, sketch)


def test_a_reply_header_round_trips_and_a_foreign_one_is_named():
    params = GenerationParams("p", 1, 1, 512, "tiny", "scribble", 1.0, None, licence="x")
    timings = FrameTimings(denoise_ms=5.0, total_ms=9.0)
    server = ServerTimings(replica="abc", queue_ms=1.0, handler_ms=12.0)
    header = json.loads(json.dumps(result_header(4, params, timings, server, ("w",))))
    header["params"]["added_by_a_newer_server"] = 1
    read = read_result_header(header)
    assert (read.request_id, read.params, read.timings, read.server) == (4, params, timings, server)
    assert read.warnings == ("w",)
    with pytest.raises(WireError, match="not one this app understands"):
        read_result_header({"id": 1})


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "png"])
def test_pictures_come_back_in_the_format_asked_for(fmt, sketch):
    data = encode_picture(sketch, fmt, 90)
    assert Image.open(io.BytesIO(data)).format == fmt.upper()
    back = decode_picture(data)
    assert back.shape == sketch.shape
    if fmt == "png":
        assert np.array_equal(back, sketch)
    else:
        assert np.abs(back.astype(int) - sketch).mean() < 8


def test_error_bodies_give_one_line_even_from_something_else():
    assert read_error(b'{"error": "no\\nmore"}', 400) == "no"
    assert read_error(b"<html>Bad Gateway</html>", 502) == "HTTP 502: <html>Bad Gateway</html>"
    assert read_error(b"", 500) == "HTTP 500"


def test_a_colour_image_travels_after_the_sketch(sketch):
    from desktop_app.core.wire import decode_images, request_body

    colours = np.full_like(sketch, 90)
    header, payload = request_body(RenderRequest(sketch=sketch, colour=colours, mode="colour"))
    back_sketch, back_colours = decode_images(header, payload)
    assert np.array_equal(back_sketch, sketch) and np.array_equal(back_colours, colours)
    header, payload = request_body(RenderRequest(sketch=sketch))
    assert "images" not in header and decode_images(header, payload)[1] is None
    for sizes in ([len(payload) + 1], [1, 2, 3], "x", [-1, len(payload) + 1], [True]):
        with pytest.raises(WireError, match="'images' does not match") as caught:
            decode_images({"images": sizes}, payload)
        assert caught.value.status == 400


# --- streamed replies (wire_stream) ---------------------------------------------------------


def test_a_streamed_reply_is_read_record_by_record_however_its_bytes_arrive():
    from desktop_app.core.wire_stream import (
        RecordReader,
        accepted_record,
        final_record,
        progress_record,
        result_record,
    )

    stream = b"".join(
        (
            accepted_record(2.0),
            progress_record("rendering", 2001.23),
            result_record({"id": 7}, b"\x89PNG picture bytes"),
        )
    )
    reader, records = RecordReader(), []
    for i in range(len(stream)):  # one byte at a time: a record is whole or not yet there
        records += reader.feed(stream[i : i + 1])
    assert [h["kind"] for h, _ in records] == ["accepted", "progress", "result"]
    assert records[0][0]["heartbeat_s"] == 2.0 and records[0][0]["stream"] == 1
    assert records[1][0]["stage"] == "rendering" and records[1][0]["elapsed_ms"] == 2001.2
    assert records[2] == ({"id": 7, "kind": "result", "bytes": 18}, b"\x89PNG picture bytes")
    assert reader.pending == 0
    assert final_record(stream) == records[2]


@pytest.mark.parametrize(
    ("stream", "words"),
    [
        (b"LCF1\x00\x00\x00\x02{}", "without a picture or an error"),  # only keep-alives
        (b"HTTP/1.1 200 OK\r\n\r\n", "not made of Live Canvas records"),
        (b"LCF1\x00\x00\x00\x0c{\"bytes\":-1}", "no sane length"),
        (b"LCF1\x00\x00\x00\x0b{\"bytes\":5}abc", "in the middle of a record"),
        (b"LCF1\x00\x00\x00\x03{{{", "unreadable"),
    ],
)
def test_a_damaged_stream_is_one_line(stream, words):
    from desktop_app.core.wire_stream import final_record

    with pytest.raises(WireError, match=words) as caught:
        final_record(stream)
    assert caught.value.status == 502


def test_only_a_client_that_asks_gets_a_stream():
    from desktop_app.core.wire_stream import wants_stream

    assert wants_stream({"stream": 1}) and wants_stream({"stream": 2})  # a newer client
    for header in ({}, {"stream": 0}, {"stream": True}, {"stream": "1"}):
        assert not wants_stream(header)

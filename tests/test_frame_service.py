"""One replica's work without Ray: who may ask, what a body may hold, and that a served
frame (and a served export) is the picture the same engine makes in this process."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from doubles import FakeEngine
from PIL import Image

from desktop_app.core.errors import RenderCancelled
from desktop_app.core.metadata import parameters_text
from desktop_app.core.types import RenderRequest
from desktop_app.core.wire import (
    CONTENT_TYPE,
    Reply,
    WireError,
    decode_picture,
    encode_sketch,
    pack,
    read_result_header,
    request_header,
    unpack,
)
from desktop_app.serving.service import FrameService, check_endpoint, token_digest

TOKEN = "s3cret-token-of-some-length"
PNG = Reply("png")


def _body(request: RenderRequest, reply: Reply = PNG, model: str | None = None) -> bytes:
    return pack(request_header(request, reply, model), encode_sketch(request.sketch))


def _reply(payload: bytes):
    header, picture = unpack(payload)
    return read_result_header(header), picture


def test_only_the_right_token_passes():
    service = FrameService(FakeEngine(), token_digest(TOKEN))
    service.authorize(f"Bearer {TOKEN}")
    for wrong in (None, "", f"Basic {TOKEN}", "Bearer nope", f"Bearer {TOKEN}x"):
        with pytest.raises(WireError) as caught:
            service.authorize(wrong)
        assert caught.value.status == 401
    FrameService(FakeEngine()).authorize(None)  # no token set: loopback only


def test_type_and_length_are_checked_before_any_body_is_read():
    check = FrameService.check_upload
    check(CONTENT_TYPE, "1000")
    check(f"{CONTENT_TYPE}; charset=binary", None)
    for content_type, length, status in (
        ("application/json", "10", 415),
        (None, "10", 415),
        (CONTENT_TYPE, str(50 * 1024 * 1024), 413),
        (CONTENT_TYPE, "-5", 400),
        (CONTENT_TYPE, "ten", 400),
    ):
        with pytest.raises(WireError) as caught:
            check(content_type, length)
        assert caught.value.status == status


def test_endpoints_and_methods():
    check_endpoint("GET", "/v1/info")
    check_endpoint("POST", "/v1/frame")
    for method, path, status in (
        ("GET", "/v1/frame", 405),
        ("POST", "/", 404),
        ("PUT", "/v1/info", 405),
    ):
        with pytest.raises(WireError) as caught:
            check_endpoint(method, path)
        assert caught.value.status == status


def test_a_served_frame_is_the_engines_own_picture(engine, sketch):
    service = FrameService(engine, replica="r1")
    request = RenderRequest(sketch=sketch, prompt="a tree", seed=5, size=256, request_id=31)
    header, picture = _reply(service.frame(_body(request)))
    local = engine.render(request)
    assert header.request_id == 31 and header.server.replica == "r1"
    assert header.params == local.params
    assert np.array_equal(decode_picture(picture), local.image)
    assert header.server.handler_ms >= header.timings.total_ms > 0
    jpeg = _reply(service.frame(_body(request, Reply("jpeg", 80))))[1]
    assert Image.open(io.BytesIO(jpeg)).format == "JPEG" and len(jpeg) < len(picture)


def test_a_served_export_is_the_local_export_with_the_same_text_chunks(engine, sketch):
    service = FrameService(engine)
    request = RenderRequest(sketch=sketch, prompt="a tree", seed=6, size=256, request_id=2)
    model = engine.info.model
    header, png = _reply(service.frame(_body(request, model=model), export=True))
    local = engine.export_image(engine.render(request))
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.info["parameters"] == parameters_text(header.params)
        assert np.array_equal(np.asarray(image.convert("RGB")), local)
    again = _reply(service.frame(_body(request, model=model), export=True))[1]
    assert np.array_equal(decode_picture(again), local)  # stateless, and the same each time


def test_an_export_of_another_models_picture_is_refused(sketch):
    service = FrameService(FakeEngine(model="fake"))
    request = RenderRequest(sketch=sketch, size=128)
    with pytest.raises(WireError, match="made with sdxl-turbo") as caught:
        service.frame(_body(request, model="sdxl-turbo"), export=True)
    assert caught.value.status == 409


def test_what_the_engine_cannot_do_is_a_422_in_its_own_words(sketch):
    engine = FakeEngine()
    engine.fail_next = 1
    with pytest.raises(WireError, match="ran out of memory") as caught:
        FrameService(engine).frame(_body(RenderRequest(sketch=sketch, size=128)))
    assert caught.value.status == 422


def test_a_cancelled_frame_stops_in_the_engine(sketch):
    engine = FakeEngine(delay_s=5.0)
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(RenderCancelled):
        FrameService(engine).frame(
            _body(RenderRequest(sketch=sketch, size=128)), False, cancel.is_set
        )
    assert engine.cancelled and not engine.rendered


def test_frames_wait_their_turn_and_the_wait_is_reported(sketch):
    engine = FakeEngine(delay_s=0.3)
    service = FrameService(engine)
    replies = []

    def send(seed: int) -> None:
        body = _body(RenderRequest(sketch=sketch, size=128, seed=seed, request_id=seed))
        replies.append(_reply(service.frame(body))[0])

    threads = [threading.Thread(target=send, args=(i,)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.request_id for r in replies) == [1, 2]
    assert max(r.server.queue_ms for r in replies) > 200  # one waited for the other's frame


def test_info_says_what_runs_and_the_limits():
    info = FrameService(FakeEngine(model="fake"), replica="abc").info()
    assert info["model"] == "fake" and info["replica"] == "abc" and info["protocol"] == 1
    assert info["limits"]["side"] == 4096

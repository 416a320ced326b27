"""Finish through ``live-canvas serve`` (``POST /v1/finish``) without Ray: the service behind
the tests' HTTP stand-in (tests/service_http.py), the remote engine in front of it."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from doubles import FakeEngine
from service_http import serving

from desktop_app.core.errors import InvalidRequestError, RenderCancelled
from desktop_app.core.types import FinishRequest, GenerationParams
from desktop_app.core.wire import WireError, pack, unpack
from desktop_app.core.wire_finish import finish_body
from desktop_app.remote.engine import connect
from desktop_app.serving.finishing import accept_finish
from desktop_app.serving.service import FrameService


def _request(side: int = 128, **kwargs) -> FinishRequest:
    yy, xx = np.mgrid[:side, :side]
    picture = np.stack([xx * 2, yy * 2, (xx + yy) % 256], axis=-1).astype(np.uint8)
    sketch = np.full((side, side, 3), 255, np.uint8)
    sketch[side // 2 - 2 : side // 2 + 2] = 0
    fields = dict(picture=picture, sketch=sketch, prompt="a red apple", seed=3, scale=1.5,
                  steps=4, strength=0.5, request_id=9)
    return FinishRequest(**{**fields, **kwargs})


def test_a_remote_finish_is_the_servers_engine_finish_with_its_progress(engine):
    first = GenerationParams(prompt="a red apple", seed=3, steps=1, size=128, model="m",
                             mode="scribble", control_scale=1.0, strength=None)
    request = _request(first_pass=first)
    local_heard, remote_heard = [], []
    local = engine.finish(request, progress=local_heard.append)
    with serving(engine, replica="r1") as server:
        remote = connect(server.url)
        assert server.service.info()["finish"] == 1
        result = remote.finish(request, progress=remote_heard.append)
    np.testing.assert_array_equal(result.image, local.image)  # a PNG: lossless
    assert result.params == local.params == replace(first, hires_upscale=1.5, hires_steps=4,
                                                    denoising_strength=0.5)
    assert result.request_id == 9 and result.latents is None
    assert result.remote is not None and result.remote.server.replica == "r1"
    stages = [(p.stage, p.step, p.steps) for p in remote_heard]
    assert stages == [(p.stage, p.step, p.steps) for p in local_heard]
    assert stages[-1] == ("decode", 1, 1) and ("refine", 2, 2) in stages


def test_out_of_memory_on_the_server_is_one_line_and_the_server_goes_on():
    fake = FakeEngine(model="fake")
    with serving(fake) as server:
        remote = connect(server.url)
        fake.fail_next = 1
        with pytest.raises(InvalidRequestError, match="ran out of memory while finishing"):
            remote.finish(_request())
        assert remote.finish(_request()).image.shape == (192, 192, 3)


def test_a_finish_given_up_on_stops_waiting_at_once():
    fake = FakeEngine(model="fake")
    fake.finish_delay_s = 5.0
    with serving(fake) as server:
        remote = connect(server.url)
        asked = threading.Event()
        threading.Timer(0.3, asked.set).start()
        start = time.monotonic()
        with pytest.raises(RenderCancelled):
            remote.finish(_request(), should_cancel=asked.is_set)
        assert time.monotonic() - start < 2.0


def _tampered(**settings) -> bytes:
    header, payload = unpack(finish_body(_request()))
    header["finish"].update(settings)
    return pack(header, payload)


@pytest.mark.parametrize(
    "body,status,message",
    [
        (_tampered(scale=9), 400, "the finish scale must be 1..4, got 9"),
        (_tampered(steps=0), 400, "the finish steps must be 1..50, got 0"),
        (_tampered(strength=1.5), 400, r"the finish strength must be in \(0, 1\], got 1.5"),
        (_tampered(colour=1), 400, "unknown finish setting 'colour'"),
        (_tampered(loras=[["no-such-style", 1.0]]), 422, "no LoRA style named 'no-such-style'"),
        (pack({"finish": {}, "images": [3, 4]}, b"1234567"), 400, "not a readable PNG"),
        (pack({"finish": {}}, b""), 400, "'images' does not match"),
    ],
)
def test_bad_finish_requests_are_refused_in_one_line(body, status, message):
    service = FrameService(FakeEngine(model="fake"))
    with pytest.raises(WireError, match=message) as caught:
        accept_finish(service, body)
    assert caught.value.status == status and "\n" not in str(caught.value)

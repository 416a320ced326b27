"""The remote engine against a server (the standard library's HTTP server around the
service: no Ray here): the same pictures as this process makes, kept-alive connections,
and every way a server can fail said in one line."""

from __future__ import annotations

import functools
import socket
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from doubles import FakeEngine
from service_http import serving

from desktop_app.core.errors import (
    InvalidRequestError,
    RenderCancelled,
    ServerRefusedError,
    ServerUnavailableError,
)
from desktop_app.core.types import FrameEngine, RenderRequest
from desktop_app.core.wire import Reply, pack, request_body
from desktop_app.remote.address import ServerAddress
from desktop_app.remote.connection import ServerConnection
from desktop_app.remote.engine import connect

TOKEN = "a-token-for-the-tests-0123456789"


@pytest.fixture
def served(engine):
    with serving(engine, replica="r1") as server:
        yield server


@pytest.fixture
def fake_served():
    with serving(FakeEngine(model="fake"), replica="f1") as server:
        yield server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_every_engine_satisfies_the_engine_protocol(engine, fake_served):
    remote = connect(fake_served.url)
    for candidate in (engine, FakeEngine(), remote):
        assert isinstance(candidate, FrameEngine)


def test_a_remote_frame_is_the_servers_engine_picture(engine, served, sketch):
    remote = connect(served.url, reply=Reply("png"))
    assert (
        remote.info.model == engine.info.model and remote.info.server == f"127.0.0.1:{served.port}"
    )
    assert remote.info.load_id != engine.info.load_id
    request = RenderRequest(sketch=sketch, prompt="a house", seed=3, size=256, request_id=12)
    result = remote.render(request)
    assert result.request_id == 12 and result.load_id == remote.info.load_id
    assert np.array_equal(result.image, engine.render(request).image)
    timings = result.remote
    assert timings.server.replica == "r1" and timings.round_trip_ms >= timings.server.handler_ms
    assert 0 < timings.bytes_up < 30_000 and timings.bytes_down > 1000


def test_an_export_renders_again_on_the_server_and_matches_a_local_export(engine, served, sketch):
    remote = connect(served.url)
    request = RenderRequest(sketch=sketch, prompt="a house", seed=4, size=256)
    exported = remote.export_image(remote.render(request))
    assert np.array_equal(exported, engine.export_image(engine.render(request)))


def test_frames_share_one_kept_alive_connection(fake_served, sketch):
    remote = connect(fake_served.url)
    first = remote.connection._conn
    for seed in range(3):
        remote.render(RenderRequest(sketch=sketch, size=128, seed=seed, request_id=seed))
    assert remote.connection._conn is first


def test_a_server_restarted_between_frames_is_dialled_again(fake_served, sketch):
    remote = connect(fake_served.url)
    remote.render(RenderRequest(sketch=sketch, size=128))
    fake_served.stop()  # the idle kept-alive connection is cut
    with fake_served.again():
        assert remote.render(RenderRequest(sketch=sketch, size=128, request_id=2)).request_id == 2


def test_an_unreachable_server_is_named_in_one_line(sketch):
    with pytest.raises(ServerUnavailableError, match="connection refused") as caught:
        connect(f"http://127.0.0.1:{_free_port()}")
    assert "\n" not in str(caught.value)
    with pytest.raises(ServerUnavailableError, match="unknown host"):
        connect("http://no-such-host.invalid:8470")


def test_a_server_that_died_is_unavailable_not_a_crash(fake_served, sketch):
    remote = connect(fake_served.url)
    fake_served.stop()
    with pytest.raises(ServerUnavailableError):
        remote.render(RenderRequest(sketch=sketch, size=128))


def test_tokens(tmp_path, sketch):
    engine = FakeEngine()
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    right.write_text(TOKEN)
    wrong.write_text("x" * 32)
    with serving(engine, token=TOKEN) as server:
        with pytest.raises(ServerRefusedError, match="needs its token"):
            connect(server.url)
        with pytest.raises(ServerRefusedError, match="not this server's"):
            connect(server.url, token_file=str(wrong))
        with pytest.raises(InvalidRequestError, match="does not exist"):
            connect(server.url, token_file=str(tmp_path / "missing"))
        remote = connect(server.url, token_file=str(right))
        remote.connection._headers["Authorization"] = "Bearer " + "y" * 32  # a token gone stale
        with pytest.raises(ServerRefusedError):
            remote.render(RenderRequest(sketch=sketch, size=128))
        assert engine.rendered == [] and server.frames_received == []  # no work was done
        assert connect(server.url, token_file=str(right)).render(
            RenderRequest(sketch=sketch, size=128)
        )


def test_what_the_server_refuses_comes_back_in_its_words(fake_served):
    remote = connect(fake_served.url)
    wide = np.full((1, 4097, 3), 255, np.uint8)
    with pytest.raises(InvalidRequestError, match="4097x1"):
        remote.render(RenderRequest(sketch=wide, size=128))


def test_a_frame_given_up_on_stops_waiting_at_once(fake_served, sketch):
    remote = connect(fake_served.url)
    fake_served.delay_s = 5.0
    asked = threading.Event()
    threading.Timer(0.2, asked.set).start()
    start = time.monotonic()
    with pytest.raises(RenderCancelled):
        remote.render(RenderRequest(sketch=sketch, size=128), should_cancel=asked.is_set)
    assert time.monotonic() - start < 1.0


def test_a_server_that_does_not_answer_in_time_is_unavailable(fake_served, sketch):
    fake_served.delay_s = 2.0
    connection = ServerConnection(ServerAddress.parse(fake_served.url))
    body = pack(*request_body(RenderRequest(sketch=sketch, size=128)))
    with pytest.raises(ServerUnavailableError, match="sent nothing for 0.3 s"):
        connection.request("POST", "/v1/frame", body, silence_s=0.3)


def test_an_answer_to_another_request_is_never_shown(fake_served, sketch, monkeypatch):
    service = fake_served.service
    original = service.answer

    def crossed(*args, **kwargs):
        header, picture = original(*args, **kwargs)
        return {**header, "id": header["id"] + 1}, picture

    monkeypatch.setattr(service, "answer", crossed)
    remote = connect(fake_served.url)
    with pytest.raises(ServerUnavailableError, match="answered request 8 to request 7"):
        remote.render(RenderRequest(sketch=sketch, size=128, request_id=7))


def test_something_that_is_not_a_live_canvas_server_is_named(tmp_path):
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    web = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ServerRefusedError, match="not a Live Canvas server"):
            connect(f"http://127.0.0.1:{web.server_address[1]}")
    finally:
        web.shutdown()
        web.server_close()


def test_https_to_a_plain_server_says_so(fake_served):
    with pytest.raises(ServerUnavailableError, match="TLS"):
        connect(f"https://127.0.0.1:{fake_served.port}")


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("gpu-box", "http://gpu-box:8470"),
        ("http://10.0.0.5:9000/", "http://10.0.0.5:9000"),
        ("https://[::1]:8470", "https://[::1]:8470"),
        ("server:http://a:1", "http://a:1"),
    ],
)
def test_addresses_as_people_type_them(text, url):
    assert ServerAddress.parse(text).url == url


@pytest.mark.parametrize("text", ["", "ftp://x", "http://", "http://a:99999", "http://a/path"])
def test_addresses_that_are_not_are_named(text):
    with pytest.raises(InvalidRequestError):
        ServerAddress.parse(text)


def test_colour_mode_colours_travel_with_the_sketch(engine, served, sketch):
    colours = np.zeros_like(sketch)
    colours[:, :256] = (0, 160, 0)
    colours[:, 256:] = (190, 20, 20)
    request = RenderRequest(
        sketch=sketch, colour=colours, mode="colour", strength=0.7, seed=9, size=256
    )
    remote = connect(served.url, reply=Reply("png"))
    result = remote.render(request)
    assert np.array_equal(result.image, engine.render(request).image)
    plain = engine.render(
        RenderRequest(sketch=sketch, mode="colour", strength=0.7, seed=9, size=256)
    )
    assert not np.array_equal(result.image, plain.image)  # the colours made a difference
    assert np.array_equal(remote.export_image(result), engine.export_image(engine.render(request)))


def test_lora_styles_travel_by_name_and_the_server_fuses_its_own(engine, sketch, tmp_path,
                                                                 monkeypatch):
    from lora_factory import lora_matrices, save_peft_lora

    from desktop_app.core.errors import ModelLoadError

    monkeypatch.setenv("LIVE_CANVAS_STYLES_DIR", str(tmp_path / "no-styles-here"))
    ink = save_peft_lora(lora_matrices(engine.parts, seed=4), tmp_path / "ink.safetensors")
    mine = (("/my/laptop/styles/ink.safetensors", 0.7),)  # the same name, the client's path
    try:
        with serving(engine, replica="r1", styles=(str(ink),)) as server:
            remote = connect(server.url, reply=Reply("png"))
            remote.set_loras(mine)
            served = remote.render(RenderRequest(sketch=sketch, size=256, loras=mine))
            local = engine.render(RenderRequest(sketch=sketch, size=256, loras=((str(ink), 0.7),)))
            np.testing.assert_array_equal(served.image, local.image)
            assert served.params.loras == local.params.loras
            with pytest.raises(ModelLoadError, match="no LoRA style named 'wash'.*it has: ink"):
                remote.set_loras((("wash", 1.0),))
            remote.close()
    finally:
        engine.set_loras(())

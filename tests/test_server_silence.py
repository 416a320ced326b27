"""A dead server told from a slow one: a server that accepts and never reads, reads and never
answers, or goes quiet in the middle of a frame is given up on after the silence limit, in
one line; a server that takes long but sends its heartbeats is waited for; every wait can be
cancelled. (The window's side is in tests/ui/test_server_window.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from doubles import FakeEngine
from hanging_servers import hanging_server
from PIL import Image
from service_http import serving

from desktop_app.core.errors import InvalidRequestError, RenderCancelled, ServerUnavailableError
from desktop_app.core.types import RenderRequest
from desktop_app.core.wire import CONTENT_TYPE, Reply
from desktop_app.core.wire_stream import STREAM_CONTENT_TYPE
from desktop_app.remote.address import ServerAddress
from desktop_app.remote.connection import SILENCE_S, ServerConnection
from desktop_app.remote.engine import connect

QUIET_S = 0.6  # the silence limit of these tests: the default's 12 s, made short


@pytest.fixture
def fake_served():
    with serving(FakeEngine(model="fake"), replica="f1") as server:
        server.heartbeat_s = 0.1
        yield server


def _one_line(err: Exception) -> str:
    assert "\n" not in str(err)
    return str(err)


@pytest.mark.parametrize(
    "reads", [False, True], ids=["accepts-and-never-reads", "reads-and-never-answers"]
)
def test_a_server_that_never_answers_is_given_up_on_after_the_silence(reads):
    with hanging_server(reads) as dead:
        with pytest.raises(ServerUnavailableError) as caught:
            connect(dead.url, silence_s=QUIET_S)
    assert _one_line(caught.value) == (
        f"the server at {ServerAddress.parse(dead.url).display} took our request but sent "
        f"nothing for {QUIET_S:g} s (it may be hung or overloaded)"
    )


def test_a_server_that_stops_reading_a_large_request_is_given_up_on():
    with hanging_server(reads=False) as dead:
        connection = ServerConnection(ServerAddress.parse(dead.url), silence_s=QUIET_S)
        body = bytes(8 * 1024 * 1024)  # far more than the socket buffers take
        with pytest.raises(ServerUnavailableError, match="stopped taking our request for 0.6 s"):
            connection.request("POST", "/v1/frame", body)


def test_sending_and_waiting_can_be_cancelled_before_the_silence_limit(sketch):
    asked = threading.Event()
    with hanging_server(reads=False) as dead:
        connection = ServerConnection(ServerAddress.parse(dead.url))  # the full 12 s limit
        threading.Timer(0.3, asked.set).start()
        start = time.monotonic()
        with pytest.raises(RenderCancelled):
            connection.request("POST", "/v1/frame", bytes(8 * 1024 * 1024), asked.is_set)
        assert time.monotonic() - start < SILENCE_S / 2  # cancelled, not timed out
    asked.clear()
    with hanging_server(reads=True) as dead:
        connection = ServerConnection(ServerAddress.parse(dead.url))
        threading.Timer(0.3, asked.set).start()
        start = time.monotonic()
        with pytest.raises(RenderCancelled):
            connection.request("GET", "/v1/info", should_cancel=asked.is_set)
        assert time.monotonic() - start < SILENCE_S / 2


def test_connecting_stops_when_its_progress_says_stop():
    class Quit(Exception):
        pass

    said: list[str] = []

    def progress(text: str) -> None:
        said.append(text)
        if len(said) > 3:
            raise Quit  # as the render worker's progress does when the window closes

    with hanging_server(reads=True) as dead:
        with pytest.raises(Quit):
            connect(dead.url, progress=progress)  # the full 12 s limit
    assert set(said) == {f"Connecting to {ServerAddress.parse(dead.url).display}…"}


def test_a_frame_read_and_never_answered_is_given_up_on(fake_served, sketch):
    remote = connect(fake_served.url, silence_s=QUIET_S)
    assert remote.streams
    fake_served.hang = True
    with pytest.raises(ServerUnavailableError, match="took our request but sent nothing"):
        remote.render(RenderRequest(sketch=sketch, size=128))


def test_a_stream_that_goes_quiet_mid_frame_is_given_up_on(fake_served, sketch):
    remote = connect(fake_served.url, silence_s=QUIET_S)
    fake_served.heartbeats, fake_served.delay_s = False, 3.0
    with pytest.raises(ServerUnavailableError, match="went silent for 0.6 s in the middle"):
        remote.render(RenderRequest(sketch=sketch, size=128))


def test_a_slow_server_that_sends_heartbeats_is_waited_for(fake_served, sketch):
    remote = connect(fake_served.url, silence_s=QUIET_S, reply=Reply("png"))
    fake_served.delay_s = 2.0  # more than three silence limits, with a heartbeat every 0.1 s
    request = RenderRequest(sketch=sketch, size=128, seed=5, request_id=3)
    start = time.monotonic()
    result = remote.render(request)
    assert time.monotonic() - start > 3 * QUIET_S
    assert result.request_id == 3
    assert np.array_equal(result.image, FakeEngine().render(request).image)
    exported = remote.export_image(result)  # an export streams the same way
    assert exported.shape == (128, 128, 3)


def test_the_reply_is_streamed_only_to_a_client_that_asks(fake_served, sketch):
    from desktop_app.core.wire import pack, request_body

    header, images = request_body(RenderRequest(sketch=sketch, size=128))
    connection = ServerConnection(ServerAddress.parse(fake_served.url))
    plain = connection.request("POST", "/v1/frame", pack(header, images))
    streamed = connection.request("POST", "/v1/frame", pack({**header, "stream": 1}, images))
    assert plain.status == streamed.status == 200
    assert (plain.content_type, streamed.content_type) == (CONTENT_TYPE, STREAM_CONTENT_TYPE)


def test_an_older_server_that_does_not_stream_gets_its_whole_frame_time(
    fake_served, sketch, monkeypatch
):
    info = fake_served.service.info
    monkeypatch.setattr(
        fake_served.service, "info", lambda: {k: v for k, v in info().items() if k != "stream"}
    )
    remote = connect(fake_served.url, silence_s=QUIET_S)
    assert not remote.streams
    fake_served.delay_s = 1.5  # silent for longer than the silence limit: an older server's way
    assert remote.render(RenderRequest(sketch=sketch, size=128, request_id=4)).request_id == 4


def test_a_failure_after_the_frame_was_accepted_comes_back_in_the_servers_words(
    fake_served, sketch
):
    fake_served.service.engine.fail_next = 1
    remote = connect(fake_served.url, silence_s=QUIET_S)
    with pytest.raises(InvalidRequestError, match="the device ran out of memory"):
        remote.render(RenderRequest(sketch=sketch, size=128))


@pytest.mark.parametrize(
    "reads", [False, True], ids=["accepts-and-never-reads", "reads-and-never-answers"]
)
def test_render_against_a_dead_server_exits_with_one_line(tmp_path, reads):
    """The real command and its real silence limit (no test setting): one line, non-zero."""
    sketch, out = tmp_path / "s.png", tmp_path / "o.png"
    Image.new("RGB", (64, 64), "white").save(sketch)
    with hanging_server(reads) as dead:
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "desktop_app", "render", str(sketch), "--prompt", "x",
             "--out", str(out), "--server", dead.url],
            capture_output=True, text=True, timeout=45, env={**os.environ},
        )
        took = time.monotonic() - start
    assert proc.returncode != 0 and not out.exists()
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "sent nothing for 12 s" in lines[0], proc.stderr
    print(f"\nrender --server against a server that {'reads' if reads else 'accepts'} and "
          f"never answers: exit {proc.returncode} after {took:.1f} s: {lines[0]}")


def test_a_stream_cut_in_the_middle_is_a_lost_frame_not_sent_again(fake_served, sketch):
    """As a replica killed mid-frame through Serve's proxy: the frame was taken, so dialling
    again (as for an idle connection the server closed) would only queue it a second time."""
    remote = connect(fake_served.url, silence_s=QUIET_S)
    remote.render(RenderRequest(sketch=sketch, size=128))  # the connection is kept alive
    fake_served.delay_s = 3.0
    fake_served.started.clear()
    threading.Thread(target=lambda: fake_served.started.wait(5) and fake_served.stop()).start()
    with pytest.raises(ServerUnavailableError, match="lost the frame .the connection closed"):
        remote.render(RenderRequest(sketch=sketch, size=128, request_id=2))

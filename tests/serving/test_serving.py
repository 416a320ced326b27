"""``live-canvas serve`` on Ray Serve, through its real HTTP proxy: two CPU replicas of the
tiny model, clients at once, a replica killed mid-frame, and every bad payload."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("ray.serve")
pytestmark = pytest.mark.serve

from PIL import Image  # noqa: E402
from serve_helpers import (  # noqa: E402
    TOKEN,
    replica_pids,
    sketch_for,
    start_server,
)

from desktop_app.bench.tools import one_torch_thread  # noqa: E402
from desktop_app.core.errors import ServerUnavailableError  # noqa: E402
from desktop_app.core.types import RenderRequest  # noqa: E402
from desktop_app.core.wire import (  # noqa: E402
    CONTENT_TYPE,
    Reply,
    encode_sketch,
    pack,
    request_header,
)
from desktop_app.remote.address import ServerAddress  # noqa: E402
from desktop_app.remote.engine import connect  # noqa: E402


@pytest.fixture(scope="module")
def ink_style(tmp_path_factory):
    """A LoRA style for the tiny model, offered by the server as ``ink``."""
    from lora_factory import lora_matrices, save_peft_lora

    from desktop_app.engine.builders import build_tiny

    folder = tmp_path_factory.mktemp("styles")
    return save_peft_lora(lora_matrices(build_tiny(), seed=11), folder / "ink.safetensors")


@pytest.fixture(scope="module")
def served(tmp_path_factory, ink_style):
    # Heartbeats every 0.25 s: a client with a silence limit of a second waits for any frame.
    server, url = start_server(replicas=2, loras=(str(ink_style),), heartbeat_s=0.25)
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(TOKEN)
    yield url, str(token_file)
    server.stop()


def _client(served, reply=None, silence_s=None):
    url, token_file = served
    reply = reply or Reply("png")
    return connect(url, token_file=token_file, reply=reply, silence_s=silence_s)


def test_three_clients_at_once_each_get_their_own_pictures(served, local_tiny):
    requests = {
        client: [
            RenderRequest(
                sketch=sketch_for(client * 10 + n),
                prompt=f"client {client}",
                seed=client * 100 + n,
                size=256,
                request_id=n + 1,
            )
            for n in range(4)
        ]
        for client in range(3)
    }
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def draw(client: int) -> None:
        try:
            engine = _client(served)
            results[client] = [engine.render(request) for request in requests[client]]
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=draw, args=(c,)) for c in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    replicas = set()
    with one_torch_thread():
        for client, sent in requests.items():
            assert [r.request_id for r in results[client]] == [s.request_id for s in sent]
            for request, result in zip(sent, results[client], strict=True):
                assert result.params.prompt == request.prompt
                assert np.array_equal(result.image, local_tiny.render(request).image)
                replicas.add(result.remote.server.replica)
    assert len(replicas) == 2  # both replicas served


def test_an_export_renders_again_to_the_same_picture(served, local_tiny):
    engine = _client(served, Reply("jpeg", 80))
    request = RenderRequest(sketch=sketch_for(7), prompt="export me", seed=77, size=256)
    result = engine.render(request)
    first, second = engine.export_image(result), engine.export_image(result)
    with one_torch_thread():
        local = local_tiny.export_image(local_tiny.render(request))
    assert np.array_equal(first, second) and np.array_equal(first, local)


def test_a_style_named_by_the_client_is_the_servers_own_file(served, local_tiny, ink_style):
    from desktop_app.core.errors import InvalidRequestError, ModelLoadError

    engine = _client(served)
    asked = (("ink", 0.8),)  # a name: the file is the server's
    engine.set_loras(asked)
    request = RenderRequest(sketch=sketch_for(3), prompt="inked", seed=5, size=256, loras=asked)
    result = engine.render(request)
    try:
        with one_torch_thread():
            local = local_tiny.render(replace(request, loras=((str(ink_style), 0.8),)))
        assert np.array_equal(result.image, local.image)
        assert result.params.loras == local.params.loras and result.params.loras[0][0] == "ink"
    finally:
        local_tiny.set_loras(())
    with pytest.raises(ModelLoadError, match="no LoRA style named 'wash'"):
        engine.set_loras((("wash", 1.0),))
    with pytest.raises(InvalidRequestError, match="no LoRA style named 'wash'"):
        engine.render(replace(request, loras=(("wash", 1.0),)))


def _post(url: str, body: bytes, headers: dict, path: str = "/v1/frame", method: str = "POST"):
    address = ServerAddress.parse(url)
    connection = http.client.HTTPConnection(address.host, address.port, timeout=60)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    message = json.loads(data).get("error") if response.status != 200 else None
    return response.status, message


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


def test_bad_payloads_each_get_one_clear_error_and_the_server_stays_up(served):
    url, _ = served
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": CONTENT_TYPE}
    good = pack(
        request_header(RenderRequest(sketch=sketch_for(1), size=128)), encode_sketch(sketch_for(1))
    )
    header = request_header(RenderRequest(sketch=sketch_for(1), size=128))
    cases = [
        ("truncated image", good[:-40], auth, 400, "not a readable"),
        ("truncated header", good[:12], auth, 400, "truncated"),
        ("wrong content type", good, {**auth, "Content-Type": "image/png"}, 415, "must be"),
        ("huge dimensions", pack(header, _png(20000, 1)), auth, 413, "20000x1"),
        ("bad JSON", b"LCF1\x00\x00\x00\x03{x}", auth, 400, "not valid JSON"),
        (
            "a bad setting",
            pack({**header, "settings": {"size": 100}}, _png(8, 8)),
            auth,
            400,
            "size must be a multiple of 64",
        ),
        ("no token", good, {"Content-Type": CONTENT_TYPE}, 401, "needs its token"),
        ("wrong token", good, {**auth, "Authorization": "Bearer wrong"}, 401, "not this server's"),
    ]
    for name, body, headers, status, words in cases:
        got, message = _post(url, body, headers)
        assert got == status and words in message, (name, got, message)
    assert _post(url, b"", auth, "/v1/frame", "GET")[0] == 405
    assert _post(url, b"", auth, "/admin", "GET")[0] == 404
    assert _post(url, good, auth) == (200, None)


def test_a_50_mb_body_is_refused_before_it_is_read(served):
    url, _ = served
    address = ServerAddress.parse(url)
    connection = http.client.HTTPConnection(address.host, address.port, timeout=60)
    connection.putrequest("POST", "/v1/frame")
    for key, value in (
        ("Authorization", f"Bearer {TOKEN}"),
        ("Content-Type", CONTENT_TYPE),
        ("Content-Length", str(50 * 1024 * 1024)),
    ):
        connection.putheader(key, value)
    connection.endheaders()
    start = time.monotonic()
    try:
        connection.send(b"\0" * (1024 * 1024))  # the first of 50 MB
    except OSError:
        pass  # the server may already have answered and closed
    response = connection.getresponse()
    assert (
        response.status == 413 and "largest a server takes" in json.loads(response.read())["error"]
    )
    assert time.monotonic() - start < 10
    connection.close()
    assert (
        _post(
            url,
            pack(
                request_header(RenderRequest(sketch=sketch_for(2), size=128)),
                encode_sketch(sketch_for(2)),
            ),
            {"Authorization": f"Bearer {TOKEN}", "Content-Type": CONTENT_TYPE},
        )[0]
        == 200
    )


def test_a_frame_longer_than_the_silence_limit_streams_its_heartbeats_through_the_proxy(
    served, local_tiny
):
    """Serve's proxy passes each record on as it comes: a frame of seconds, with a client
    that gives up after one second of silence, arrives whole."""
    engine = _client(served, silence_s=1.0)
    assert engine.streams
    request = RenderRequest(sketch=sketch_for(5, 2048), size=2048, seed=8, request_id=9)
    start = time.monotonic()
    result = engine.render(request)
    took = time.monotonic() - start
    assert took > 2.0, f"the frame took {took:.1f} s: too short to show anything"
    print(f"\na 2048² frame through Serve's proxy, silence limit 1 s: {took:.1f} s")
    assert result.request_id == 9
    with one_torch_thread():
        assert np.array_equal(result.image, local_tiny.render(request).image)


def test_a_replica_killed_mid_frame_loses_that_frame_only(served):
    engine = _client(served)
    slow = RenderRequest(sketch=sketch_for(3, 2048), size=2048, request_id=1)  # seconds a frame
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(_try(engine.render, slow)))
    thread.start()
    time.sleep(1.5)  # the frame is being rendered
    pids = replica_pids()
    assert len(pids) == 2
    for pid in pids:  # both: the frame in flight is lost whichever replica has it
        os.kill(pid, signal.SIGKILL)
    thread.join(60)
    assert isinstance(outcome[0], ServerUnavailableError), outcome
    deadline = time.monotonic() + 120
    while True:  # what the window does: try again until a replica answers
        result = _try(engine.render, RenderRequest(sketch=sketch_for(4), size=128, request_id=2))
        if not isinstance(result, Exception) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not isinstance(result, Exception), result
    assert result.request_id == 2


def _try(call, *args):
    try:
        return call(*args)
    except Exception as err:  # noqa: BLE001 - the outcome is what is tested
        return err

"""``bench --server`` times what it says (against the service behind http.server here), and
the relay it measures a LAN through delays and limits what crosses it."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from doubles import FakeEngine
from service_http import serving

from desktop_app.bench.relay import SlowLinkRelay
from desktop_app.cli import main


def test_bench_server_reports_the_remote_path_concurrency_and_a_lan(capsys):
    engine = FakeEngine(delay_s=0.02, model="fake-remote")
    with serving(engine, replica="r") as served:
        args = ["bench", "--server", served.url, "--size", "128", "--frames", "6"]
        args += ["--warmup", "1", "--clients", "1,2", "--seconds", "1", "--json"]
        assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    per_frame = report["per_frame"]
    assert report["model"] == "fake-remote" and report["frames"] == 6
    assert per_frame["engine_ms"]["median"] >= 20  # the server's own model time
    assert per_frame["overhead_ms"]["median"] == pytest.approx(
        per_frame["frame_ms"]["median"] - per_frame["engine_ms"]["median"], abs=5
    )
    assert 0 < per_frame["bytes_up"]["median"] < 20_000
    for clients in ("1", "2"):
        level = report["concurrency"][clients]
        assert level["errors"] == [] and level["frames"] > 0
        assert len(level["fps_per_client"]) == int(clients)
    assert report["lan"]["fps"] > 0 and report["lan"]["wire_bytes_down_per_frame"] > 0
    assert report["command"].startswith("live-canvas bench --server ")


def _echo_server() -> tuple[socket.socket, int]:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return listener, listener.getsockname()[1]


def test_the_relay_delays_each_way_and_limits_the_rate():
    listener, port = _echo_server()
    relay = SlowLinkRelay("127.0.0.1", port, delay_s=0.05, rate_bps=8e6)  # 1 MB/s
    local = relay.start()
    try:
        with socket.create_connection(("127.0.0.1", local)) as conn:
            start = time.perf_counter()
            conn.sendall(b"x")
            assert conn.recv(10) == b"x"
            assert time.perf_counter() - start >= 0.1  # 50 ms there, 50 ms back
            payload = b"y" * 500_000
            start = time.perf_counter()
            conn.sendall(payload)
            received = 0
            while received < len(payload):
                received += len(conn.recv(65536))
            assert time.perf_counter() - start >= 0.45  # half a megabyte at 1 MB/s
        assert relay.up.bytes == relay.down.bytes == 1 + len(payload)
    finally:
        relay.stop()
        listener.close()

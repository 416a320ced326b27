"""The window drawing against a server (the service behind the standard library's HTTP
server; Ray's own proxy is in tests/serving/): where frames come from, a server that is
slow, goes away or was never there, the way back to a local model, latest wins end to end."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from doubles import FakeEngine, fake_loader
from drawing import first_frame, stroke
from hanging_servers import hanging_server
from PIL import Image
from PySide6.QtWidgets import QDialogButtonBox
from service_http import serving

from desktop_app.app import server_link
from desktop_app.remote.address import server_model
from desktop_app.ui.server_dialog import ServerDialog
from desktop_app.ui.startup import create_window

TOKEN = "a-token-for-the-window-tests-0123"


@pytest.fixture
def server():
    with serving(FakeEngine(model="fake-on-server"), replica="replica-one") as served:
        yield served


def lose_the_server(qtbot, server, window) -> None:
    """The server dies after the first picture; the next stroke finds it gone."""
    first_frame(qtbot, window)
    server.stop()
    stroke(qtbot, window.canvas)
    qtbot.waitUntil(window.server_banner.isVisible, timeout=5000)


@pytest.fixture
def open_window(qtbot, tmp_path, qsettings):
    made = []

    def open_(url: str, token_file: str | None = None):
        qsettings.setValue("export_dir", str(tmp_path / "exports"))
        qsettings.setValue("local_preset", "fake")
        window = create_window(
            model=server_model(url),
            loader=fake_loader(FakeEngine(model="fake")),  # the local model, when chosen
            qsettings=qsettings,
            data_dir=tmp_path / "data",
            server_files=(token_file, None),
        )
        qtbot.addWidget(window)
        made.append(window)
        window.show()
        window.start()
        return window

    yield open_
    for window in made:
        window.controller.worker.request_stop(keep_jobs=False)
        assert window.controller.worker.wait(15_000)


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(server_link, "BACKOFF_S", (0.2, 0.3))


def test_frames_come_from_the_server_and_the_status_bar_says_where(qtbot, server, open_window):
    window = open_window(server.url)
    first_frame(qtbot, window)
    assert window.device_label.text() == f"server: 127.0.0.1:{server.port} (cpu)"
    assert window.model_label.text() == "model: fake-on-server"
    assert window.origin_label.isVisible()
    assert window.origin_label.text().startswith("replica replica-")
    assert (
        " · network " in window.origin_label.text() and " · server " in window.origin_label.text()
    )
    assert window.controls.preset.currentText() == f"server: 127.0.0.1:{server.port}"
    shown = window.controller.frames.current
    stroke(qtbot, window.canvas)
    qtbot.waitUntil(lambda: window.controller.frames.current is not shown, timeout=5000)
    current = window.controller.frames.current
    assert np.array_equal(window.controller.frames.sketch_of(current), window.canvas.to_numpy())
    assert not window.server_banner.isVisible()


def test_a_server_that_goes_away_and_comes_back(qtbot, server, open_window, quick_retries):
    window = open_window(server.url)
    lose_the_server(qtbot, server, window)
    assert "No pictures from the server" in window.server_banner.text()
    assert "Trying again" in window.server_banner.text()
    assert [b.text() for b in window.server_banner.buttons] == ["Retry now", "Use a local model"]
    assert not window.error_banner.isVisible()  # one banner says it, not two
    stroke(qtbot, window.canvas, (0.1, 0.8), (0.9, 0.2))  # drawing goes on meanwhile
    drawn = window.canvas.to_numpy()
    with server.again():
        qtbot.waitUntil(lambda: not window.server_banner.isVisible(), timeout=10_000)
        qtbot.waitUntil(
            lambda: np.array_equal(
                window.controller.frames.sketch_of(window.controller.frames.current), drawn
            ),
            timeout=5000,
        )


def test_a_server_that_is_not_there_yet_is_waited_for(qtbot, server, open_window, quick_retries):
    server.stop()
    window = open_window(server.url)
    qtbot.waitUntil(window.server_banner.isVisible, timeout=5000)
    assert "connection refused" in window.server_banner.text()
    assert not window.load_banner.isVisible()
    with server.again():
        first_frame(qtbot, window)
        qtbot.waitUntil(lambda: not window.server_banner.isVisible(), timeout=5000)


def test_use_a_local_model_goes_back_to_this_computer(qtbot, server, open_window, quick_retries):
    window = open_window(server.url)
    lose_the_server(qtbot, server, window)
    window.server_banner.buttons[1].click()
    assert window.state.preset == "fake"
    qtbot.waitUntil(lambda: window.model_label.text() == "model: fake", timeout=5000)
    assert window.device_label.text() == "device: cpu"
    qtbot.waitUntil(lambda: window.controller.frames.current.remote is None, timeout=5000)
    assert not window.origin_label.isVisible() and not window.server_banner.isVisible()


def test_a_slow_server_gets_a_notice_and_no_error(qtbot, server, open_window, monkeypatch):
    monkeypatch.setattr(server_link, "SLOW_AFTER_MS", 300)
    window = open_window(server.url)
    first_frame(qtbot, window)
    server.delay_s = 1.5
    stroke(qtbot, window.canvas)
    qtbot.waitUntil(window.server_banner.isVisible, timeout=5000)
    assert "Waiting for the server" in window.server_banner.text()
    assert [b.text() for b in window.server_banner.buttons] == ["Use a local model"]
    qtbot.waitUntil(lambda: not window.server_banner.isVisible(), timeout=5000)


def test_latest_wins_end_to_end(qtbot, server, open_window):
    """One frame in flight and one pending: the frames asked for while one renders replace
    each other, and only the last is ever sent."""
    window = open_window(server.url)
    first_frame(qtbot, window)
    server.delay_s = 0.6
    server.started.clear()
    frames = window.controller.frames
    first = frames.request_frame(force=True, supersede=False)
    assert server.started.wait(5)
    asked = [frames.request_frame(force=True, supersede=False) for _ in range(8)]
    qtbot.waitUntil(lambda: frames.current.request_id == asked[-1], timeout=10_000)
    assert server.frames_received[-2:] == [first, asked[-1]]


def test_a_wrong_token_is_said_once_with_the_way_back(qtbot, open_window, tmp_path):
    wrong = tmp_path / "wrong-token"
    wrong.write_text("w" * 40)
    with serving(FakeEngine(), token=TOKEN) as guarded:
        window = open_window(guarded.url, str(wrong))
        qtbot.waitUntil(window.load_banner.isVisible, timeout=5000)
        assert "refused us: the token is not this server's" in window.load_banner.text()
        assert [b.text() for b in window.load_banner.buttons] == ["Use a local model"]
        assert window.controller.server.trouble is None  # no retrying a refusal
        assert not window.server_banner.isVisible()


def test_an_export_through_the_server_writes_the_png(qtbot, server, open_window, tmp_path):
    window = open_window(server.url)
    first_frame(qtbot, window)
    with qtbot.waitSignal(window.controller.exports.export_finished, timeout=5000) as done:
        window.export_action.trigger()
    with Image.open(done.args[0]) as image:
        assert "Model: fake-on-server" in image.info["parameters"]
        exported = np.asarray(image.convert("RGB"))
    assert np.array_equal(exported, window.controller.frames.current.image)


def test_the_server_dialog_connects_and_refuses_a_bad_address(qtbot, server, tmp_path, qsettings):
    window = create_window(
        model="fake", loader=fake_loader(FakeEngine()), qsettings=qsettings, data_dir=tmp_path
    )
    qtbot.addWidget(window)
    window.show()
    index = window.controls.preset.findData("__on_a_server__")
    window.controls.preset.activated.emit(index)
    dialog = window.findChild(ServerDialog)
    assert dialog is not None and dialog.isVisible()
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    dialog.address.setText("ftp://nowhere")
    ok.click()
    assert dialog.isVisible() and "http:// or https://" in dialog.error.text()
    dialog.address.setText(f"127.0.0.1:{server.port}")
    ok.click()
    assert window.state.preset == f"server:http://127.0.0.1:{server.port}"
    window.controller.worker.request_stop(keep_jobs=False)
    window.controller.worker.wait(5000)


def test_frames_failing_while_a_retry_waits_do_not_stretch_the_backoff(
    qtbot, server, open_window, monkeypatch
):
    monkeypatch.setattr(server_link, "BACKOFF_S", (5.0, 10.0))
    window = open_window(server.url)
    first_frame(qtbot, window)
    server.stop()
    link, frames, worker = (
        window.controller.server,
        window.controller.frames,
        window.controller.worker,
    )
    for _ in range(4):  # a stroke's frames, each failing in turn
        with qtbot.waitSignal(worker.unavailable, timeout=5000):
            frames.request_frame(force=True)
    assert link.failures == 1 and "Trying again in 5 s" in window.server_banner.text()
    with qtbot.waitSignal(worker.unavailable, timeout=5000):
        window.server_banner.buttons[0].click()  # Retry now: a retry, and it fails
    assert link.failures == 2 and "Trying again in 10 s" in window.server_banner.text()


@pytest.fixture
def short_silence(monkeypatch):
    from desktop_app.remote import connection

    monkeypatch.setattr(connection, "SILENCE_S", 0.5)


def test_a_server_that_never_answers_gets_the_banner_and_is_tried_again(
    qtbot, open_window, quick_retries, short_silence
):
    with hanging_server(reads=True) as dead:
        window = open_window(dead.url)
        qtbot.waitUntil(window.server_banner.isVisible, timeout=5000)
        text = window.server_banner.text()
        assert "No pictures from the server: the server at 127.0.0.1:" in text
        assert "took our request but sent nothing for 0.5 s" in text and "Trying again" in text
        assert not window.load_banner.isVisible()
        qtbot.waitUntil(lambda: dead.accepted >= 2, timeout=5000)  # dialled again by itself


def test_a_frame_the_server_never_answers_gets_the_banner(
    qtbot, server, open_window, quick_retries, short_silence
):
    window = open_window(server.url)
    first_frame(qtbot, window)
    server.hang = True  # it reads the next frame and never answers
    stroke(qtbot, window.canvas)
    qtbot.waitUntil(window.server_banner.isVisible, timeout=5000)
    assert "took our request but sent nothing for 0.5 s" in window.server_banner.text()


def _closed_in_time(qtbot, window) -> bool:
    """Ctrl+Q, and the close's end within 2 s; True when nothing had to be abandoned."""
    start = time.monotonic()
    with qtbot.waitSignal(window.closed, timeout=2000) as done:
        window.quit_action.trigger()
    print(f"\nCtrl+Q to closed: {time.monotonic() - start:.2f} s")
    return done.args[0]


@pytest.mark.parametrize("reads", [False, True], ids=["never-reads", "reads-never-answers"])
def test_ctrl_q_while_connecting_to_a_server_that_never_answers(qtbot, open_window, reads):
    with hanging_server(reads) as dead:
        window = open_window(dead.url)  # the full 12 s silence limit
        qtbot.waitUntil(lambda: dead.accepted >= 1, timeout=5000)
        qtbot.wait(300)
        assert _closed_in_time(qtbot, window)
        assert not window.controller.worker.isRunning()


def test_ctrl_q_while_a_frame_waits_on_a_server_that_stopped_answering(
    qtbot, server, open_window
):
    window = open_window(server.url)  # the full 12 s silence limit
    first_frame(qtbot, window)
    server.hang, server.started = True, threading.Event()
    stroke(qtbot, window.canvas)
    assert server.started.wait(5)
    qtbot.wait(300)
    assert _closed_in_time(qtbot, window)
    assert not window.controller.worker.isRunning()

"""The window against the server on Ray Serve: a replica killed mid-frame and the server
stopped and started again are said in the window, and the pictures come back by themselves."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

pytest.importorskip("ray.serve")
pytestmark = pytest.mark.serve

from doubles import FakeEngine, fake_loader  # noqa: E402
from drawing import first_frame, stroke  # noqa: E402
from serve_helpers import replica_pids, start_server  # noqa: E402

from desktop_app.app import server_link  # noqa: E402
from desktop_app.remote.address import server_model  # noqa: E402
from desktop_app.ui.startup import create_window  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings, QStandardPaths

    from desktop_app.app.settings import set_application_names

    set_application_names()
    QStandardPaths.setTestModeEnabled(True)
    monkeypatch.setattr(server_link, "BACKOFF_S", (0.5, 1.0))
    # Autoscaled (one replica, a second under load): the window cannot tell, and need not.
    server, url = start_server(token=None, autoscale=(1, 2))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    made = create_window(
        model=server_model(url),
        loader=fake_loader(FakeEngine()),
        qsettings=settings,
        data_dir=tmp_path / "data",
    )
    qtbot.addWidget(made)
    made.show()
    made.start()
    made.serve = server
    yield made
    made.controller.worker.request_stop(keep_jobs=False)
    made.controller.worker.wait(15_000)
    made.serve.stop()


def _drawn_frame_arrives(qtbot, window, timeout=120_000):
    drawn = window.canvas.to_numpy()
    frames = window.controller.frames

    def shows_drawing() -> bool:
        return frames.current is not None and np.array_equal(
            frames.sketch_of(frames.current), drawn
        )

    qtbot.waitUntil(shows_drawing, timeout=timeout)
    qtbot.waitUntil(lambda: not window.server_banner.isVisible(), timeout=5000)


def test_a_killed_replica_is_said_and_the_pictures_come_back(qtbot, window):
    first_frame(qtbot, window)
    window.state.size = 2048  # a frame of seconds, to kill the replica in the middle of
    stroke(qtbot, window.canvas)
    qtbot.wait(1500)
    for pid in replica_pids():
        os.kill(pid, signal.SIGKILL)
    qtbot.waitUntil(window.server_banner.isVisible, timeout=30_000)
    text = window.server_banner.text()
    assert text.startswith("No pictures from the server: the server at") and "Trying again" in text
    window.state.size = 256
    stroke(qtbot, window.canvas, (0.1, 0.9), (0.9, 0.1))  # drawing never waited
    _drawn_frame_arrives(qtbot, window)


def test_a_server_stopped_and_started_again_is_reconnected_by_itself(qtbot, window):
    first_frame(qtbot, window)
    port = window.serve.options.port
    window.serve.stop()
    stroke(qtbot, window.canvas)
    qtbot.waitUntil(window.server_banner.isVisible, timeout=30_000)
    assert "cannot reach the server" in window.server_banner.text() or "closed" in (
        window.server_banner.text()
    )
    window.serve, _ = start_server(port=port, token=None, autoscale=(1, 2))
    _drawn_frame_arrives(qtbot, window)

"""The log: started with the window in its data folder, the whole traceback of every caught
failure and of those nobody caught (one line in a banner), and a menu entry to find it."""

from __future__ import annotations

import argparse
import threading

import pytest
from doubles import FakeEngine
from PySide6.QtCore import QTimer

from desktop_app.core import log
from desktop_app.core.errors import ModelLoadError


@pytest.fixture(autouse=True)
def _log_closed_after():
    yield
    log.stop_log()


def test_the_log_starts_with_the_window_and_holds_a_caught_failure(qtbot, make_window, tmp_path):
    window = make_window(error=ModelLoadError("no such model here"))
    qtbot.waitUntil(lambda: window.load_banner.isVisible(), timeout=5000)
    path = tmp_path / "data" / "live-canvas.log"
    assert log.current_log() == path
    text = path.read_text()
    assert "Live Canvas" in text and "started" in text
    assert "loading fake: no such model here" in text
    assert "Traceback (most recent call last)" in text and "raise error" in text


def test_uncaught_failures_are_logged_and_shown_in_one_line(qtbot, monkeypatch, tmp_path):
    from doubles import fake_loader

    from desktop_app.app import engine_api
    from desktop_app.commands import gui
    from desktop_app.ui import startup

    made = []
    create_window = startup.create_window

    def create(**kwargs):
        made.append(create_window(**kwargs))
        return made[-1]

    def in_a_slot():
        raise KeyError("a slot failed")

    def in_a_thread():
        raise ZeroDivisionError("a thread failed")

    def fail_twice():
        in_a_slot_soon = QTimer(made[0])
        in_a_slot_soon.setSingleShot(True)
        in_a_slot_soon.timeout.connect(in_a_slot)
        in_a_slot_soon.start(0)
        threading.Thread(target=in_a_thread, name="helper").start()

    monkeypatch.setattr(engine_api, "load_engine", fake_loader(FakeEngine()))
    monkeypatch.setattr(startup, "app_data_dir", lambda: tmp_path / "data")
    monkeypatch.setattr(startup, "create_window", create)
    QTimer.singleShot(0, fail_twice)
    parser = argparse.ArgumentParser()
    gui.add_arguments(parser)
    assert gui.run(parser.parse_args(["--model", "fake", "--quit-after", "1"])) == 0

    text = (tmp_path / "data" / "live-canvas.log").read_text()
    assert "uncaught: KeyError: 'a slot failed'" in text
    assert "uncaught in helper: ZeroDivisionError: a thread failed" in text
    assert text.count("Traceback (most recent call last)") == 2
    shown = made[0].error_banner.text()
    assert shown.startswith("Something went wrong: ") and "\n" not in shown
    assert str(tmp_path / "data" / "live-canvas.log") in shown
    assert "Traceback" not in shown


def test_open_log_folder_shows_the_data_folder(qtbot, make_window, tmp_path, monkeypatch):
    from desktop_app.ui import help_menu

    opened = []

    class Desktop:
        @staticmethod
        def openUrl(url):  # noqa: N802 - Qt's name
            opened.append(url.toLocalFile())
            return len(opened) == 1  # the second time, as on a desktop with no file manager

    monkeypatch.setattr(help_menu, "QDesktopServices", Desktop)
    window = make_window(FakeEngine(), start=False)
    entries = [a.text() for a in window.help_action.menu().actions()]
    assert "Open log folder" in entries
    window.help_menu.log_action.trigger()
    assert opened == [str(tmp_path / "data")]
    window.help_menu.log_action.trigger()
    assert window.error_banner.text() == (
        f"The log folder could not be opened here; it is {tmp_path / 'data'}"
    )


def test_a_failing_autosave_is_one_banner_and_the_next_stroke_is_saved(
    qtbot, make_window, tmp_path, monkeypatch
):
    from drawing import first_frame, stroke

    from desktop_app.app import files

    real_save = files.Autosave.save
    failing = [True]

    def save(self, *args):
        if failing[0]:
            raise PermissionError(13, "Permission denied", str(self.reference_file))
        real_save(self, *args)

    monkeypatch.setattr(files.Autosave, "save", save)
    window = make_window(FakeEngine())
    shown = []
    window.controller.session.notice.connect(shown.append)
    first_frame(qtbot, window)
    for start in ((0.1, 0.1), (0.5, 0.1)):
        stroke(qtbot, window.canvas, start=start)
        window.controller.session.wait()
    qtbot.waitUntil(lambda: window.error_banner.isVisible(), timeout=5000)
    assert window.error_banner.text() == (
        f"Autosave failed: PermissionError: [Errno 13] Permission denied: "
        f"'{tmp_path / 'data' / 'autosave-reference.png'}'; retrying"
    )
    failing[0] = False
    stroke(qtbot, window.canvas, start=(0.1, 0.9))
    window.controller.session.wait()
    qtbot.wait(50)
    assert len(shown) == 1
    restored = files.Autosave(tmp_path / "data").load()
    assert (restored.sketch == window.canvas.to_numpy()).all()
    assert (
        "Traceback (most recent call last)" in (tmp_path / "data" / "live-canvas.log").read_text()
    )

"""What the desktop is told about the window: its names, desktop file and icon; and
``--quit-after``, which the frozen smoke test and the start-up timing rely on."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtGui import QGuiApplication
from test_cli_tiny import isolated_env

from desktop_app.core.resources import APP_ID
from desktop_app.ui.theme import icon, set_desktop_identity


def test_the_desktop_knows_the_app_by_its_launchers_name():
    set_desktop_identity()
    assert QGuiApplication.applicationDisplayName() == "Live Canvas"
    # Wayland's app id and the launcher's file name must agree for the dock to match them.
    assert QGuiApplication.desktopFileName() == APP_ID


def test_the_window_has_the_app_icon(make_window):
    window = make_window()
    assert not window.windowIcon().isNull()
    assert not icon("app").pixmap(64, 64).isNull()  # the SVG renders (Qt's SVG plugin)


@pytest.mark.timeout(300)
def test_quit_after_closes_the_window_by_itself_with_exit_0(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app", "--model", "tiny", "--quit-after", "0.2"],
        env=isolated_env(tmp_path), capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_a_bad_quit_after_is_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app", "--quit-after", "soon"],
        env=isolated_env(tmp_path), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--quit-after" in done.stderr


def test_version_names_the_release_and_where_the_log_is(tmp_path):
    done = subprocess.run([sys.executable, "-m", "desktop_app", "--version"],
                          env=isolated_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    from desktop_app import __version__

    log = tmp_path / "data" / "LiveCanvas" / "Live Canvas" / "live-canvas.log"
    assert done.stdout == f"live-canvas {__version__}\nlog: {log}\n"

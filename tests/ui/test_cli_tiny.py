"""``live-canvas --model tiny --quit-after-first-frame`` end to end, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def isolated_env(home, **extra) -> dict[str, str]:
    """Preferences and app data in ``home``, so the test neither reads nor writes the user's."""
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(home),
                XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"), **extra)


@pytest.mark.timeout(300)
def test_the_window_opens_renders_a_tiny_frame_and_exits_0(tmp_path):
    env = isolated_env(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app", "--model", "tiny", "--quit-after-first-frame"],
        env=env, capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "data").exists()  # the autosave went to the isolated app-data folder


@pytest.mark.timeout(300)
def test_a_missing_model_exits_1_after_showing_why(tmp_path):
    env = isolated_env(tmp_path, HF_HUB_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app", "--model", str(tmp_path / "no-such-model"),
         "--quit-after-first-frame"],
        env=env, capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 1
    assert "live-canvas: error: the model did not load:" in done.stderr
    assert "Traceback" not in done.stderr
    # The log in the data folder holds what the user was spared: the whole traceback.
    log = tmp_path / "data" / "LiveCanvas" / "Live Canvas" / "live-canvas.log"
    text = log.read_text()
    assert "loading " in text and "Traceback (most recent call last)" in text

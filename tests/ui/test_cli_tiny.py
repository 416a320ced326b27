"""``live-canvas --model tiny --quit-after-first-frame`` end to end, in a subprocess."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest


def _missing(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


@pytest.mark.timeout(300)
def test_the_window_opens_renders_a_tiny_frame_and_exits_0(tmp_path):
    missing = _missing("desktop_app.engine.loading", "desktop_app.commands.render",
                       "desktop_app.commands.models", "desktop_app.commands.bench")
    if missing:
        pytest.skip(f"not written yet: {', '.join(missing)}")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME", str(tmp_path / "cache")))
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app", "--model", "tiny", "--quit-after-first-frame"],
        env=env, capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "data").exists()  # the autosave went to the isolated app-data folder


@pytest.mark.timeout(300)
def test_a_missing_model_exits_1_after_showing_why(tmp_path):
    missing = _missing("desktop_app.engine.loading", "desktop_app.commands.render",
                       "desktop_app.commands.models", "desktop_app.commands.bench")
    if missing:
        pytest.skip(f"not written yet: {', '.join(missing)}")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               HF_HUB_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app", "--model", str(tmp_path / "no-such-model"),
         "--quit-after-first-frame"],
        env=env, capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 1

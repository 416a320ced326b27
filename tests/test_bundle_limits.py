"""What the frozen bundle leaves out (triton for --compile, Ray for serve) is refused in one
plain sentence there, instead of failing deep inside torch or Ray. Here with ``sys.frozen``
set as PyInstaller sets it; tests/packaging runs the real bundle."""

from __future__ import annotations

import sys

import pytest

from desktop_app.core.errors import InvalidRequestError, LiveCanvasError


@pytest.fixture
def frozen(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)


def test_compile_is_refused_in_the_bundle(frozen):
    from desktop_app.engine.loading import load_engine

    with pytest.raises(InvalidRequestError, match="--compile needs live-canvas installed with pip"):
        load_engine("tiny", device="cpu", compile_models=True)


def test_plain_loading_works_in_the_bundle(frozen):
    from desktop_app.engine.loading import load_engine

    assert load_engine("tiny", device="cpu").info is not None


def test_serve_says_it_is_not_in_the_bundle(frozen):
    from desktop_app.serving.launch import require_ray

    with pytest.raises(LiveCanvasError, match="serve is not part of the desktop bundle"):
        require_ray()

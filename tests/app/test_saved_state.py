"""Saved state that cannot hurt: every bad stored value or damaged file falls back to the
default for that one thing, says so in one line, and keeps the damaged file aside."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from desktop_app.app import files
from desktop_app.app.settings import read_prefs, write_prefs
from desktop_app.core.settings_table import load_stored, stored_in


@pytest.mark.parametrize(
    ("name", "stored", "says"),
    [
        ("control_scale", 1e9, "control scale must be between 0 and 2, got 1e+09"),
        ("control_scale", "nan", "control scale must be a number"),
        ("mode", "nope", "mode must be one of scribble, colour, got 'nope'"),
        ("strength", -1, "strength must be in (0, 1], got -1"),
        ("seed", "abc", "seed must be a whole number, got 'abc'"),
        ("seed", 2**40, "seed must be between 0 and 4294967295"),
        ("steps", 2.5, "steps must be a whole number, got 2.5"),
        ("seed_locked", "maybe", "seed lock must be true or false, got 'maybe'"),
        ("prompt", ["a", "list"], "the prompt must be text"),
    ],
)
def test_each_bad_stored_value_is_dropped_alone_and_said(name, stored, says):
    neighbour = {"seed": 5} if name == "prompt" else {"prompt": "kept"}
    raw = {name: stored, **neighbour, "unknown_key": 1}
    values, dropped = load_stored(raw, stored_in("session"), "autosaved session")
    assert name not in values
    assert len(dropped) == 1 and says in dropped[0] and "\n" not in dropped[0]
    assert dropped[0].startswith("autosaved session: ")
    assert "; using " in dropped[0]  # and the default applies
    assert len(values) == 1  # the good neighbour is kept, the unknown key ignored


def test_valid_stored_values_are_kept_exactly():
    raw = {"control_scale": "1.25", "seed": 4294967295, "seed_locked": "true", "mode": "colour"}
    values, dropped = load_stored(raw, stored_in("session"), "x")
    assert dropped == []
    assert values == {"control_scale": 1.25, "seed": 4294967295, "seed_locked": True,
                      "mode": "colour"}


def write_sketch(store: files.Autosave, data: bytes) -> None:
    store.directory.mkdir(parents=True, exist_ok=True)
    store.sketch_file.write_bytes(data)


def png_bytes(width: int, height: int, mode: str = "RGB") -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new(mode, (width, height), "white").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "damage, says",
    [
        ("empty", "cannot be read as an image"),
        ("garbage", "cannot be read as an image"),
        ("truncated", "cannot be read as an image"),
        ("huge", "larger than a sketch can be"),  # Pillow's own bomb check refuses it
        ("wide", "9000x64 pixels, larger than a sketch can be"),  # ours, from the header
    ],
)
def test_a_damaged_autosaved_sketch_is_kept_aside_and_said(tmp_path, damage, says):
    store = files.Autosave(tmp_path)
    good = png_bytes(512, 512)
    data = {
        "empty": b"",
        "garbage": b"\x89PNG not really" * 50,
        "truncated": good[: len(good) // 2],
        "huge": png_bytes(20000, 20000, mode="1"),  # a 400-megapixel page, 50 KB on disk
        "wide": png_bytes(9000, 64, mode="1"),
    }[damage]
    write_sketch(store, data)
    store.session_file.write_text(json.dumps({"prompt": "still here"}))

    restored = store.load()
    assert restored.sketch is None
    assert restored.values == {"prompt": "still here"}  # the session is not lost with it
    (notice,) = restored.notices
    assert notice.startswith("The autosaved sketch could not be read") and "\n" not in notice
    assert says in notice
    kept = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert len(kept) == 1 and kept[0].read_bytes() == data and str(kept[0]) in notice
    assert not store.sketch_file.exists()  # the next save cannot overwrite the damaged one


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", "\udcff"])
def test_a_damaged_session_file_is_kept_aside_and_the_sketch_survives(tmp_path, text):
    store = files.Autosave(tmp_path)
    sketch = np.full((512, 512, 3), 255, np.uint8)
    sketch[100:110] = 0
    files.save_image(store.sketch_file, sketch)
    store.session_file.write_bytes(text.encode("utf-8", "surrogateescape"))
    restored = store.load()
    assert np.array_equal(restored.sketch, sketch) and restored.values == {}
    (notice,) = restored.notices
    assert notice.startswith("The autosaved session could not be read")
    assert any(".damaged-" in p.name for p in tmp_path.iterdir())


def test_bad_preferences_fall_back_one_by_one(tmp_path, qapp):
    path = tmp_path / "settings.ini"
    settings = QSettings(str(path), QSettings.Format.IniFormat)
    write_prefs({"brush_size": 40, "layout": "stacked"}, settings)
    for key, value in {"size": "500", "live": "sometimes", "brush_colour": "red",
                       "export_dir": "x" * 5000}.items():
        settings.setValue(key, value)
    settings.sync()
    values, dropped = read_prefs(QSettings(str(path), QSettings.Format.IniFormat))
    assert values == {"brush_size": 40, "layout": "stacked"}
    assert len(dropped) == 4 and all(str(path) in line for line in dropped)
    assert any("size must be a multiple of 64" in line for line in dropped)
    assert any("brush colour must look like #rrggbb, got 'red'" in line for line in dropped)


def test_preferences_round_trip_every_type(tmp_path, qapp):
    path = tmp_path / "settings.ini"
    prefs = {"size": 768, "live": False, "brush_colour": "#12ab34", "geometry": b"\x00\x01\xff",
             "export_dir": "/tmp/é", "save_sketch": True, "preset": "user:mine"}
    write_prefs(prefs, QSettings(str(path), QSettings.Format.IniFormat))
    values, dropped = read_prefs(QSettings(str(path), QSettings.Format.IniFormat))
    assert dropped == [] and values == prefs


def test_a_stored_prompt_longer_than_the_limit_is_cut_not_dropped():
    from desktop_app.core.settings_table import MAX_PROMPT_CHARS

    long_prompt = "a lighthouse at dusk, " * 400
    values, said = load_stored({"prompt": long_prompt, "seed": 5}, stored_in("session"), "session")
    assert values["prompt"] == long_prompt[:MAX_PROMPT_CHARS] and values["seed"] == 5
    assert said == [f"session: the prompt was cut to {MAX_PROMPT_CHARS} characters"]


def test_the_state_never_holds_a_prompt_past_the_limit(qapp):
    from desktop_app.app.state import LiveState
    from desktop_app.core.settings_table import MAX_PROMPT_CHARS

    state = LiveState()
    state.prompt = "x" * (MAX_PROMPT_CHARS + 10)
    assert len(state.prompt) == MAX_PROMPT_CHARS
    state.apply({"prompt": "y" * (MAX_PROMPT_CHARS * 2)})
    assert state.prompt == "y" * MAX_PROMPT_CHARS

"""The filmstrip survives a restart (and a crash): the same pictures, pixel for pixel, the
settings that made them and the pins; a damaged filmstrip never stops the start."""

from __future__ import annotations

import numpy as np
from doubles import FakeEngine
from drawing import first_frame, stroke

from desktop_app.app.history import History


def _pictures(history: History) -> list[tuple]:
    return [(e.result.image, e.result.params, e.pinned) for e in history.entries]


def _settled(qtbot, window, prompt: str) -> None:
    history = window.controller.history
    window.state.prompt = prompt
    qtbot.waitUntil(
        lambda: bool(history.entries) and history.entries[0].result.params.prompt == prompt,
        timeout=5000,
    )


def test_a_restart_shows_the_same_filmstrip_with_its_pins(qtbot, make_window, tmp_path):
    data = tmp_path / "shared-data"
    first = make_window(FakeEngine(), data_dir=data)
    first_frame(qtbot, first)
    stroke(qtbot, first.canvas)
    for prompt in ("a fox", "a fox in the snow", "a hare"):
        _settled(qtbot, first, prompt)
    history = first.controller.history
    history.set_pinned(history.entries[1].entry_id, True)
    before = _pictures(history)
    assert len(before) >= 3
    first.controller.filmstrip.wait()  # written; the window is never closed: a crash

    again = make_window(FakeEngine(), data_dir=data, start=False)
    after = _pictures(again.controller.history)
    assert len(after) == len(before)
    for (image, params, pinned), (image2, params2, pinned2) in zip(before, after, strict=True):
        assert np.array_equal(image, image2)
        assert params == params2 and pinned == pinned2
    assert again.filmstrip.count() == len(before)
    assert again.filmstrip.item(1).text().startswith("📌")
    assert not again.restore_banner.isVisible()
    # A kept entry restores what made it, as one from this run does.
    entry = again.controller.history.entries[2]
    again.filmstrip.restore_requested.emit(entry.entry_id)
    assert again.state.prompt == entry.result.params.prompt
    assert np.array_equal(again.controller.frames.current.image, entry.result.image)


def test_a_damaged_filmstrip_is_kept_aside_and_the_app_starts(qtbot, make_window, tmp_path):
    data = tmp_path / "data"
    (data / "filmstrip").mkdir(parents=True)
    (data / "filmstrip" / "index.json").write_text('{"format": 1, "entries": [{"fi')
    window = make_window(FakeEngine(), data_dir=data)
    first_frame(qtbot, window)  # started, and renders
    assert window.controller.history.entries[:0] == []
    notice = window.restore_banner.text()
    assert "The filmstrip could not be read" in notice and ".damaged-" in notice
    assert len(list((data / "filmstrip").glob("index.damaged-*.json"))) == 1
    assert window.filmstrip.count() <= 1  # only what this run made since

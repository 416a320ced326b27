"""The prompt box holds at most what the prompt keeps: a longer paste is cut while typing,
with a banner that says so, and a cut prompt survives a restart whole."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop_app.core.settings_table import MAX_PROMPT_CHARS


def test_a_pasted_prompt_past_the_limit_is_cut_and_said(qtbot, make_window):
    window = make_window()
    box = window.controls.prompt
    box.setFocus()
    box.insertPlainText("a castle on a hill " * 300)  # as a paste lands: 5700 characters
    assert len(box.toPlainText()) == MAX_PROMPT_CHARS
    assert window.state.prompt == box.toPlainText()
    assert window.error_banner.isVisible()
    assert f"limited to {MAX_PROMPT_CHARS} characters" in window.error_banner.text()
    qtbot.keyClick(box, Qt.Key.Key_Z)  # one more key at the limit: still the limit
    assert len(window.state.prompt) == MAX_PROMPT_CHARS


def test_a_prompt_at_the_limit_comes_back_after_a_restart(qtbot, make_window, tmp_path):
    window = make_window(data_dir=tmp_path / "data")
    window.controls.prompt.setPlainText("p" * (MAX_PROMPT_CHARS + 50))
    window.controller.session.save_soon_now()
    window.controller.session.wait()
    again = make_window(data_dir=tmp_path / "data", restore=True)
    assert again.state.prompt == "p" * MAX_PROMPT_CHARS

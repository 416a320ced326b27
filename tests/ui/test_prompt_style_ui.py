"""Prompt styles in the window: chosen beside the prompt, edited in their dialog (saved with
the presets, so a new window lists them), the final prompt in the picture's parameters."""

from __future__ import annotations

from doubles import FakeEngine
from drawing import first_frame

from desktop_app.ui.prompt_style_box import EDIT_STYLES


def test_choosing_a_style_changes_the_frames_prompt(qtbot, make_window):
    window = make_window(FakeEngine())
    first_frame(qtbot, window)
    window.state.prompt = "a fox"
    box = window.controls.prompt_style
    assert box.currentText() == "No style"
    with qtbot.waitSignal(window.controller.frames.result_shown, timeout=5000) as shown:
        box.setCurrentIndex(box.findData("Watercolour"))
        box.activated.emit(box.currentIndex())
    assert window.state.prompt_style == "Watercolour"
    assert shown.args[0].params.prompt.startswith("watercolour painting of, a fox,")


def test_a_style_made_in_the_editor_is_listed_and_kept(qtbot, make_window, qsettings):
    window = make_window(FakeEngine())
    window.state.loras = (("/styles/ink.safetensors", 0.5),)
    box = window.controls.prompt_style
    box.activated.emit(box.findData(EDIT_STYLES))
    dialog = window.controls.style_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.loras.toPlainText() == "/styles/ink.safetensors:0.5"  # the styles in use
    dialog.name.setText("Inky")
    dialog.before.setText("ink sketch of")
    assert dialog.save() is not None
    dialog.name.setText("")
    assert dialog.save() is None and dialog.error.text() == "give the style a name"
    dialog.accept()
    qtbot.waitUntil(lambda: box.findData("Inky") >= 0, timeout=2000)
    again = make_window(FakeEngine(), start=False)
    style = again.controller.frames.styles.get("Inky")
    assert style.before == "ink sketch of"
    assert style.loras == (("/styles/ink.safetensors", 0.5),)

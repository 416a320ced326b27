"""Prompt styles: text around the prompt and their LoRA styles in every frame, the final
prompt in exports, the user's own kept with the presets, damaged entries dropped."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings
from test_worker import loaded

from desktop_app.app.prompt_styles import (
    BUILTIN_STYLES,
    SETTINGS_KEY,
    PromptStyle,
    PromptStyleStore,
    make_prompt_style,
)
from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.metadata import parameters_text


@pytest.fixture
def qsettings(tmp_path):
    return QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)


def test_a_style_puts_its_words_around_the_prompt():
    style = PromptStyle("Ink", "ink drawing of", "bold lines,")
    assert style.prompt("a fox") == "ink drawing of, a fox, bold lines"
    assert style.prompt("") == "ink drawing of, bold lines"
    assert PromptStyle("Plain").prompt(" a fox ") == "a fox"


def test_a_styles_loras_join_the_users_without_doubling():
    style = PromptStyle("S", loras=(("ink", 0.5), ("wash", 1.0)))
    assert style.with_loras((("ink", 1.2),)) == (("ink", 1.2), ("wash", 1.0))


def test_frames_use_the_style_and_exports_hold_the_final_prompt(qtbot, rig):
    controller = rig()
    controller.frames.styles = PromptStyleStore()
    controller.frames.styles.save(
        make_prompt_style("Inked", "ink drawing of", "cross-hatching", "ink:0.5")
    )
    loaded(qtbot, controller)
    controller.state.prompt = "a lighthouse"
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000) as shown:
        controller.state.prompt_style = "Inked"
    params = shown.args[0].params
    assert params.prompt == "ink drawing of, a lighthouse, cross-hatching"
    assert controller.engine.loras == (("ink", 0.5),)
    assert parameters_text(params).startswith(
        "ink drawing of, a lighthouse, cross-hatching <lora:ink:0.5>\n"
    )
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000) as shown:
        controller.state.prompt_style = ""
    assert shown.args[0].params.prompt == "a lighthouse" and controller.engine.loras == ()


def test_a_deleted_style_leaves_the_prompt_as_typed(qtbot, rig):
    controller = rig()
    store = controller.frames.styles = PromptStyleStore()
    store.save(make_prompt_style("Gone", "x", "y"))
    controller.state.prompt_style = "Gone"
    store.remove("Gone")
    loaded(qtbot, controller)
    controller.state.prompt = "a boat"
    request, _ = controller.frames.build_request()
    assert request.prompt == "a boat"


def test_the_users_styles_are_kept_and_a_damaged_entry_is_dropped(qsettings):
    store = PromptStyleStore(qsettings)
    store.save(make_prompt_style("Mine", "before", "after", "/styles/ink.safetensors:0.7"))
    store.save(make_prompt_style("Renamed", "b", "a"), replacing="Mine")
    again = PromptStyleStore(qsettings)
    assert [s.name for s in again.own()] == ["Renamed"]
    entries = json.loads(qsettings.value(SETTINGS_KEY))
    entries += [{"name": 5}, {"name": "Bad", "before": "", "after": "", "loras": [["x", 9]]},
                "junk", {"name": "Ok", "before": "b", "after": "a", "loras": []}]
    qsettings.setValue(SETTINGS_KEY, json.dumps(entries))
    assert [s.name for s in PromptStyleStore(qsettings).own()] == ["Renamed", "Ok"]
    qsettings.setValue(SETTINGS_KEY, "{not json")
    assert PromptStyleStore(qsettings).all() == list(BUILTIN_STYLES)


@pytest.mark.parametrize("name, before, loras, words", [
    ("", "", "", "give the style a name"),
    ("Watercolour", "", "", "exists already"),
    ("x" * 61, "", "", "at most 60"),
    ("Long", "w" * 3000, "", "at most 2000"),
    ("Weights", "", "ink:7", "between -2 and 2"),
])
def test_bad_styles_are_refused_in_one_line(name, before, loras, words):
    with pytest.raises(InvalidRequestError, match=words):
        make_prompt_style(name, before, "", loras)


def test_a_filmstrip_entry_made_with_a_style_restores_its_picture_not_the_style_twice(
    qtbot, rig
):
    controller = rig(history_settle_ms=0)
    store = controller.frames.styles = PromptStyleStore()
    store.save(make_prompt_style("Inked", "ink drawing of", "", "/styles/ink.safetensors:0.5"))
    loaded(qtbot, controller)
    controller.state.prompt = "a boat"
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000) as shown:
        controller.state.prompt_style = "Inked"
    made = shown.args[0].params
    qtbot.waitUntil(lambda: any(e.result.params.prompt == made.prompt
                                for e in controller.history.entries), timeout=5000)
    entry = next(e for e in controller.history.entries if e.result.params.prompt == made.prompt)
    controller.state.prompt = "something else"  # the style stays chosen
    controller.restore_entry(entry.entry_id)
    assert controller.state.prompt_style == "" and controller.state.prompt == made.prompt
    assert controller.state.loras == (("/styles/ink.safetensors", 0.5),)  # found in the style
    request, _ = controller.frames.build_request()
    assert request.prompt == made.prompt and request.loras == (("/styles/ink.safetensors", 0.5),)

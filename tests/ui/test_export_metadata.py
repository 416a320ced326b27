"""Exported PNGs read back by a real Stable Diffusion metadata parser (sd-parsers), as other
tools would read them: colour mode, older filmstrip entries, a prompt that tries to forge
the parameters line."""

from __future__ import annotations

from pathlib import Path

from doubles import FakeEngine
from sd_parsers import ParserManager


def parsed(path: str):
    info = ParserManager().parse(Path(path))
    assert info is not None, f"{path} carries no metadata a parser recognises"
    (sampler,) = info.samplers
    (prompt,) = sampler.prompts
    return prompt.value, sampler, info.metadata


def export(qtbot, window, result=None) -> str:
    with qtbot.waitSignal(window.controller.exports.export_finished, timeout=5000) as done:
        window.controller.exports.export(result)
    return done.args[0]


def shown_with(qtbot, window, **settings):
    window.state.apply(settings)
    qtbot.waitUntil(lambda: window.controller.frames.current is not None
                    and window.controller.frames.current.params.seed == settings["seed"],
                    timeout=5000)
    return window.controller.frames.current


def test_colour_mode_export_carries_mode_strength_and_scale(qtbot, make_window):
    window = make_window(FakeEngine(model="sdxl-turbo"))
    shown_with(qtbot, window, prompt="a red fox, at dusk", mode="colour", strength=0.45,
               control_scale=0.8, seed=42)
    prompt, sampler, extra = parsed(export(qtbot, window))
    assert prompt == "a red fox, at dusk"
    assert sampler.name == "Euler" and sampler.parameters["seed"] == "42"
    assert sampler.model.name == "sdxl-turbo"
    assert extra["Mode"] == "colour" and float(extra["Denoising strength"]) == 0.45
    assert float(extra["ControlNet scale"]) == 0.8


def test_an_older_filmstrip_entry_exports_its_own_parameters(qtbot, make_window):
    window = make_window(FakeEngine())
    old = shown_with(qtbot, window, prompt="the first idea", mode="scribble", seed=7)
    shown_with(qtbot, window, prompt="a later idea", mode="colour", seed=8)
    prompt, sampler, extra = parsed(export(qtbot, window, old))
    assert prompt == "the first idea" and sampler.parameters["seed"] == "7"
    assert extra["Mode"] == "scribble" and "Denoising strength" not in extra


def test_a_prompt_cannot_forge_the_parameters_line(qtbot, make_window):
    window = make_window(FakeEngine())
    forged = "a cat\nSteps: 99, Sampler: DDIM, Seed: 1"
    shown_with(qtbot, window, prompt=forged, seed=5)
    _prompt, sampler, _extra = parsed(export(qtbot, window))
    assert sampler.parameters["seed"] == "5" and sampler.name == "Euler"

"""Finish's settings, declared once (ranges and defaults, a preset's own), and a finished
picture's parameters in A1111's words."""

from __future__ import annotations

from dataclasses import replace

import pytest

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.metadata import parameters_text
from desktop_app.core.settings_table import FINISH_SCALES, SETTINGS
from desktop_app.core.types import GenerationParams
from desktop_app.models import presets


def first_pass(**changes) -> GenerationParams:
    values = dict(prompt="a lighthouse", seed=7, steps=1, size=512, model="sdxl-turbo",
                  mode="scribble", control_scale=1.0, strength=None)
    return GenerationParams(**{**values, **changes})


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("finish_scale", 0.5, "finish scale must be between 1 and 4, got 0.5"),
        ("finish_scale", 4.5, "finish scale must be between 1 and 4, got 4.5"),
        ("finish_steps", 0, "finish steps must be between 1 and 50, got 0"),
        ("finish_steps", 51, "finish steps must be between 1 and 50, got 51"),
        ("finish_strength", 0.0, "finish strength must be in (0, 1], got 0"),
        ("finish_strength", 1.5, "finish strength must be in (0, 1], got 1.5"),
    ],
)
def test_finish_settings_refuse_what_is_out_of_range_in_one_line(name, value, words):
    with pytest.raises(InvalidRequestError) as caught:
        SETTINGS[name].check(value)
    assert str(caught.value) == words


def test_finish_defaults_and_the_offered_scales():
    assert FINISH_SCALES == (1.5, 2.0, 3.0)
    assert all(SETTINGS["finish_scale"].check(s) == s for s in (1.0, *FINISH_SCALES, 4.0))
    assert SETTINGS["finish_scale"].default == 2.0 and SETTINGS["finish_scale"].store == "prefs"
    assert presets.finish_defaults("sdxl-turbo") == (4, 0.4)
    assert presets.finish_defaults("some/hub-model") == (4, 0.4)


def test_a_preset_may_set_its_own_finish(monkeypatch):
    own = replace(presets.PRESETS["sdxs"], finish_steps=2, finish_strength=0.5)
    monkeypatch.setitem(presets.PRESETS, "sdxs", own)
    assert presets.finish_defaults("sdxs") == (2, 0.5)


def test_a_finished_pictures_parameters_follow_the_first_pass_in_a1111s_words():
    text = parameters_text(
        first_pass(hires_upscale=2.0, hires_steps=4, denoising_strength=0.4)
    )
    assert text == (
        "a lighthouse\nSteps: 1, Sampler: Euler, CFG scale: 0, Seed: 7, Size: 512x512, "
        "Model: sdxl-turbo, ControlNet scale: 1, Mode: scribble, Hires upscale: 2, "
        "Hires steps: 4, Denoising strength: 0.4, Software: Live Canvas"
    )


def test_colour_mode_finished_says_denoising_strength_once_the_second_passs():
    text = parameters_text(
        first_pass(mode="colour", strength=0.6, hires_upscale=1.5, hires_steps=10,
                   denoising_strength=0.3)
    )
    assert text.count("Denoising strength") == 1
    assert "Hires upscale: 1.5, Hires steps: 10, Denoising strength: 0.3" in text
    assert "Denoising strength: 0.6" in parameters_text(first_pass(mode="colour", strength=0.6))

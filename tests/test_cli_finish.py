"""``live-canvas render SKETCH ... --finish``: the finished picture written with A1111's hires
fields after the first pass's, and one clear line for every bad input with nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_cli_render import render_args, run_cli

from desktop_app.core.metadata import parameters_text, read_parameters
from desktop_app.core.types import FinishRequest, GenerationParams, RenderRequest
from desktop_app.engine.loading import load_engine


@pytest.fixture
def sketch_file(tmp_path, sketch) -> Path:
    path = tmp_path / "sketch.png"
    Image.fromarray(sketch[::2, ::2]).save(path)  # 256²
    return path


def test_finish_writes_the_engines_finished_picture(capsys, tmp_path, sketch, sketch_file,
                                                    tiny_folder):
    out = tmp_path / "finished.png"
    args = render_args(sketch_file, out, tiny_folder, "--size", "128", "--seed", "7",
                       "--finish", "--finish-scale", "1.5", "--finish-steps", "4",
                       "--finish-strength", "0.5")
    code, stdout, err = run_cli(capsys, *args)
    assert code == 0, err
    assert stdout.startswith(f"wrote {out} (192x192, finished from 128x128")
    assert "finishing: refining, step 2/2" in err and "Traceback" not in err
    params = read_parameters(out)
    assert params.endswith(
        "Size: 128x128, Model: tiny-sdxl, ControlNet scale: 1, Mode: scribble, "
        "Hires upscale: 1.5, Hires steps: 4, Denoising strength: 0.5, Software: Live Canvas"
    ), params
    assert params.startswith("a red apple\nSteps: 1,")
    # The picture is the engine's finish of the frame it rendered (tiny decoder's picture).
    engine = load_engine(str(tiny_folder), device="cpu")
    small = np.array(Image.open(sketch_file).convert("RGB"))
    frame = engine.render(RenderRequest(sketch=small, prompt="a red apple", seed=7, size=128))
    expected = engine.finish(FinishRequest(
        picture=frame.image, sketch=small, prompt="a red apple", seed=7, scale=1.5, steps=4,
        strength=0.5, first_pass=frame.params,
    )).image
    np.testing.assert_array_equal(np.asarray(Image.open(out)), expected)


def test_finish_defaults_are_twice_four_steps_at_0_4(capsys, tmp_path, sketch_file,
                                                     tiny_folder):
    out = tmp_path / "finished.png"
    code, stdout, err = run_cli(capsys, *render_args(sketch_file, out, tiny_folder,
                                                     "--size", "128", "--finish"))
    assert code == 0, err
    assert Image.open(out).size == (256, 256)
    assert "Hires upscale: 2, Hires steps: 4, Denoising strength: 0.4" in read_parameters(out)


@pytest.mark.parametrize(
    "extra,exit_code,message",
    [
        (["--finish", "--finish-scale", "0.5"], 2,
         "argument --finish-scale: finish scale must be between 1 and 4, got 0.5"),
        (["--finish", "--finish-scale", "5"], 2, "finish scale must be between 1 and 4, got 5"),
        (["--finish", "--finish-steps", "0"], 2, "finish steps must be between 1 and 50, got 0"),
        (["--finish", "--finish-steps", "51"], 2, "finish steps must be between 1 and 50"),
        (["--finish", "--finish-strength", "1.5"], 2, "finish strength must be in (0, 1], got 1.5"),
        (["--finish", "--finish-strength", "0"], 2, "finish strength must be in (0, 1], got 0"),
        (["--finish", "--finish-steps", "2", "--finish-strength", "0.3"], 1,
         "2 steps at strength 0.3 run no step"),
        (["--finish-scale", "2"], 1, "--finish-scale goes with --finish"),
        (["--finish", "--init", "x.png"], 1, "--finish and --init cannot be combined"),
    ],
)
def test_bad_finish_input_is_one_line_and_writes_nothing(capsys, tmp_path, sketch_file,
                                                         extra, exit_code, message, monkeypatch):
    def no_load(*_args, **_kwargs):
        raise AssertionError("a bad input must be refused before any model loads")

    monkeypatch.setattr("desktop_app.engine.loading.load_engine", no_load)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.png")
    monkeypatch.chdir(tmp_path)
    args = render_args(sketch_file, tmp_path / "o.png", "tiny", *extra)
    code, _, err = run_cli(capsys, *args)
    assert code == exit_code and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.png").exists()


def test_parameters_of_a_finished_colour_frame_name_one_denoising_strength():
    params = GenerationParams(prompt="p", seed=1, steps=2, size=512, model="m", mode="colour",
                              control_scale=1.0, strength=0.6, hires_upscale=2.0, hires_steps=4,
                              denoising_strength=0.4)
    text = parameters_text(params)
    assert text.count("Denoising strength") == 1
    assert "Mode: colour, Hires upscale: 2, Hires steps: 4, Denoising strength: 0.4" in text

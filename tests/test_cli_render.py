"""``live-canvas render``: the real entry point, and one clear line for every bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from desktop_app.cli import main
from desktop_app.core.metadata import read_parameters


@pytest.fixture
def sketch_file(tmp_path, sketch) -> Path:
    path = tmp_path / "sketch.png"
    Image.fromarray(sketch).save(path)
    return path


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def render_args(sketch, out, model, *extra):
    return ["render", sketch, "--prompt", "a red apple", "--out", out, "--model", model, *extra]


def test_entry_point_writes_png_with_parameters(tmp_path, sketch_file, tiny_folder):
    out = tmp_path / "out.png"
    proc = subprocess.run(
        [sys.executable, "-m", "desktop_app", *render_args(sketch_file, out, tiny_folder),
         "--seed", "42", "--control-scale", "0.8"],
        capture_output=True, text=True, timeout=300, env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.startswith(f"wrote {out}") and " ms (" in proc.stdout
    image = Image.open(out)
    assert image.size == (512, 512) and image.mode == "RGB"
    params = read_parameters(out)
    assert params.startswith("a red apple\n")
    for field in ("Steps: 1", "Seed: 42", "Size: 512x512", "ControlNet scale: 0.8", "Sampler:"):
        assert field in params
    assert f"Model: {tiny_folder.name}" in params


def test_colour_mode_full_quality_and_non_ascii_prompt(capsys, tmp_path, sketch_file, tiny_folder):
    out = tmp_path / "colour.png"
    args = render_args(sketch_file, out, tiny_folder, "--mode", "colour", "--strength", "0.5",
                       "--full-quality", "--size", "256")
    args[3] = "ein Apfel im Garten, 林檎 🍎"
    code, stdout, err = run_cli(capsys, *args)
    assert code == 0, err
    assert Image.open(out).size == (256, 256)
    params = read_parameters(out)
    assert params.startswith("ein Apfel im Garten, 林檎 🍎") and "Denoising strength: 0.5" in params


def test_same_seed_same_file_pixels(capsys, tmp_path, sketch_file, tiny_folder):
    paths = [tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"]
    for path, seed in zip(paths, (1, 1, 2), strict=True):
        assert run_cli(capsys, *render_args(sketch_file, path, tiny_folder, "--seed", seed))[0] == 0
    a, b, c = (np.asarray(Image.open(p)) for p in paths)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_long_and_empty_prompts_warn_but_render(capsys, tmp_path, sketch_file, tiny_folder):
    args = render_args(sketch_file, tmp_path / "long.png", tiny_folder)
    args[3] = "an intricate watercolour of a harbour town at dawn " * 6
    code, _, err = run_cli(capsys, *args)
    assert code == 0 and "warning: the prompt is longer than the text encoder's 77 tokens" in err
    args = render_args(sketch_file, tmp_path / "empty.png", tiny_folder)
    args[3] = ""
    code, _, err = run_cli(capsys, *args)
    assert code == 0 and "warning: the prompt is empty" in err


@pytest.mark.parametrize(
    "change,exit_code,message",
    [
        ({"size": "500"}, 2, "size must be a multiple of 64 between 128 and 2048, got 500"),
        ({"size": "4096"}, 2, "size must be a multiple of 64 between 128 and 2048, got 4096"),
        ({"size": "big"}, 2, "size must be a whole number"),
        ({"strength": "0"}, 2, "strength must be in (0, 1], got 0"),
        ({"strength": "1.2"}, 2, "strength must be in (0, 1], got 1.2"),
        ({"control-scale": "3"}, 2, "control scale must be between 0 and 2"),
        ({"steps": "9"}, 2, "steps must be between 1 and 4"),
        ({"mode": "paint"}, 2, "invalid choice: 'paint'"),
        ({"model": "/no/such/model"}, 1, "model path does not exist: /no/such/model"),
        ({"model": "stabilityai/sdxl-turbo"}, 1, "is not downloaded and HF_HUB_OFFLINE is set"),
    ],
)
def test_bad_settings(capsys, tmp_path, sketch_file, tiny_folder, change, exit_code, message):
    args = render_args(sketch_file, tmp_path / "o.png", tiny_folder)
    for key, value in change.items():
        if f"--{key}" in args:
            args[args.index(f"--{key}") + 1] = value
        else:
            args += [f"--{key}", value]
    code, _, err = run_cli(capsys, *args)
    assert code == exit_code
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()


def test_bad_sketch_files(capsys, tmp_path, tiny_folder):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    truncated = tmp_path / "cut.png"
    Image.new("RGB", (64, 64), "white").save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:40])
    cases = [
        (tmp_path / "missing.png", "sketch file not found"),
        (text, "is not an image file Live Canvas can read"),
        (tmp_path, "is a folder, not an image file"),
        (truncated, "cut.png"),
    ]
    for path, message in cases:
        code, _, err = run_cli(capsys, *render_args(path, tmp_path / "o.png", tiny_folder))
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err


def test_folder_that_is_not_a_model(capsys, tmp_path, sketch_file):
    (tmp_path / "junk").mkdir()
    code, _, err = run_cli(capsys, *render_args(sketch_file, tmp_path / "o.png", tmp_path / "junk"))
    assert code == 1 and "is not a diffusers model folder (no model_index.json)" in err


def test_output_in_missing_folder(capsys, tmp_path, sketch_file, tiny_folder):
    out = tmp_path / "nope" / "o.png"
    code, _, err = run_cli(capsys, *render_args(sketch_file, out, tiny_folder))
    assert code == 1 and f"cannot write {out}: folder {out.parent} does not exist" in err


def test_read_only_output_leaves_no_file(capsys, tmp_path, sketch_file, tiny_folder, monkeypatch):
    """Tests run as root, where chmod does not stop writes; the disk refusing is simulated at
    the point where the temporary file is created."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    out = tmp_path / "o.png"
    code, _, err = run_cli(capsys, *render_args(sketch_file, out, tiny_folder))
    assert code == 1 and f"cannot write {out}: permission denied" in err
    assert list(tmp_path.iterdir()) == [sketch_file]


def test_failed_write_midway_leaves_no_partial_file(capsys, tmp_path, sketch_file, tiny_folder,
                                                    monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # the bytes are written, then the disk fills
    code, _, err = run_cli(capsys, *render_args(sketch_file, tmp_path / "o.png", tiny_folder))
    assert code == 1 and "the disk is full" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sketch.png"]


def test_out_of_memory(capsys, tmp_path, sketch_file, tiny_folder, monkeypatch):
    from diffusers import UNet2DConditionModel

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(UNet2DConditionModel, "forward", oom)
    code, _, err = run_cli(capsys, *render_args(sketch_file, tmp_path / "o.png", tiny_folder))
    assert code == 1 and "out of memory on cpu at 512x512: try a smaller size (--size 256)" in err


def test_unexpected_errors_are_one_line(capsys, tmp_path, sketch_file, tiny_folder, monkeypatch):
    from desktop_app.engine import renderer

    monkeypatch.setattr(renderer.Engine, "render", lambda *a: 1 / 0)
    code, _, err = run_cli(capsys, *render_args(sketch_file, tmp_path / "o.png", tiny_folder))
    assert code == 70 and "internal error: ZeroDivisionError" in err and "Traceback" not in err


def test_missing_required_arguments(capsys, sketch_file):
    code, _, err = run_cli(capsys, "render", sketch_file)
    assert code == 2 and "the following arguments are required: --prompt, --out" in err


def test_written_png_has_the_usual_permissions(capsys, tmp_path, sketch_file, tiny_folder):
    out = tmp_path / "o.png"
    assert run_cli(capsys, *render_args(sketch_file, out, tiny_folder))[0] == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask

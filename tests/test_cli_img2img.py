"""``live-canvas render SKETCH --init PICTURE``: the image-to-image pass from the shell, and one
clear line for every bad input with nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_cli_render import render_args, run_cli

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.metadata import read_parameters
from desktop_app.core.types import Img2ImgRequest
from desktop_app.engine.loading import load_engine


def _picture(width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    rgb = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) * 97 % 256], axis=-1)
    return rgb.astype(np.uint8)


@pytest.fixture
def sketch_file(tmp_path, sketch) -> Path:
    path = tmp_path / "sketch.png"
    Image.fromarray(sketch).save(path)
    return path


@pytest.fixture
def init_file(tmp_path) -> Path:
    """Twice the sketch's size, the same aspect: resized to --size on the way in."""
    path = tmp_path / "picture.png"
    Image.fromarray(_picture(1024, 1024)).save(path)
    return path


def test_init_writes_the_engines_img2img_picture(capsys, tmp_path, sketch, sketch_file, init_file,
                                                 tiny_folder):
    out = tmp_path / "refined.png"
    args = render_args(sketch_file, out, tiny_folder, "--init", init_file, "--steps", "4",
                       "--strength", "0.5", "--size", "256", "--seed", "7")
    code, stdout, err = run_cli(capsys, *args)
    assert code == 0, err
    assert stdout.startswith(f"wrote {out} (256x256, seed 7")
    params = read_parameters(out)
    for field in ("Steps: 4", "Denoising strength: 0.5", "Mode: img2img", "Seed: 7"):
        assert field in params
    # The picture is resized with Lanczos before the engine sees it, as documented.
    lanczos = Image.open(init_file).resize((256, 256), Image.Resampling.LANCZOS)
    engine = load_engine(str(tiny_folder), device="cpu")
    expected = engine.render_img2img(Img2ImgRequest(
        sketch=sketch, init=np.array(lanczos), prompt="a red apple", strength=0.5, steps=4,
        seed=7, size=256,
    )).image
    np.testing.assert_array_equal(np.asarray(Image.open(out)), expected)


@pytest.mark.parametrize(
    "extra,exit_code,message",
    [
        (["--steps", "0"], 2, "argument --steps: steps must be between 1 and 50, got 0"),
        (["--steps", "51"], 2, "argument --steps: steps must be between 1 and 50, got 51"),
        (["--steps", "many"], 2, "steps must be a whole number, got 'many'"),
        (["--strength", "0"], 2, "strength must be in (0, 1], got 0"),
        (["--strength", "1.5"], 2, "strength must be in (0, 1], got 1.5"),
        (["--steps", "3", "--strength", "0.3"], 1, "3 steps at strength 0.3 run no step"),
        (["--mode", "colour"], 1, "--init and --mode colour cannot be combined"),
        (["--server", "http://127.0.0.1:9"], 1, "--init renders on this computer only"),
    ],
)
def test_bad_settings_with_init(capsys, tmp_path, sketch_file, init_file, tiny_folder, extra,
                                exit_code, message):
    args = [*render_args(sketch_file, tmp_path / "o.png", tiny_folder), "--init", init_file]
    if "--server" in extra:
        args.remove("--model")
        args.remove(tiny_folder)
    code, _, err = run_cli(capsys, *args, *extra)
    assert code == exit_code and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.png").exists()


def test_bad_init_pictures(capsys, tmp_path, sketch_file, tiny_folder):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    wide = tmp_path / "wide.png"
    Image.fromarray(_picture(600, 512)).save(wide)
    cases = [
        (tmp_path / "missing.png", "--init picture file not found"),
        (text, "is not an image file Live Canvas can read"),
        (tmp_path, "is a folder, not an image file"),
        (wide, "the starting picture is 600x512 and the sketch 512x512: they must have the "
               "same aspect ratio"),
    ]
    for path, message in cases:
        args = render_args(sketch_file, tmp_path / "o.png", tiny_folder, "--init", path)
        code, _, err = run_cli(capsys, *args)
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "o.png").exists()


def test_frame_steps_keep_their_range_without_init(capsys, tmp_path, sketch_file, tiny_folder):
    code, _, err = run_cli(capsys, *render_args(sketch_file, tmp_path / "o.png", tiny_folder,
                                                "--steps", "9"))
    assert code == 2 and "argument --steps: steps must be between 1 and 4, got 9" in err


def test_aspect_ratio_allows_one_pixel_of_rounding():
    """A 400x200 sketch and an 801x400 picture (a resize rounded) are the same aspect; a
    picture two pixels of the sketch's off is not."""
    sketch = np.full((200, 400, 3), 255, np.uint8)
    Img2ImgRequest(sketch=sketch, init=_picture(801, 400), steps=2, strength=0.5)
    with pytest.raises(InvalidRequestError, match="same aspect ratio"):
        Img2ImgRequest(sketch=sketch, init=_picture(400, 196), steps=2, strength=0.5)


def test_non_square_picture_is_centred_on_white_like_a_sketch():
    """A 2:1 sketch and picture: the pass renders the square, with the picture across its
    middle and white paper above and below, as a 2:1 sketch's frame would show it."""
    from desktop_app.engine.sketch import fit_picture

    fitted = fit_picture(_picture(512, 256), 256)
    assert fitted.shape == (256, 256, 3)
    assert (fitted[:60] == 255).all() and (fitted[-60:] == 255).all()
    assert not (fitted[70:186] == 255).all()

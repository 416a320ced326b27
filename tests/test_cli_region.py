"""``live-canvas render --keep PICTURE --region MASK|X,Y,W,H``: the written picture is the kept
one outside the region and its feather; every bad input is one line, a non-zero exit and no
file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_app.cli import main
from desktop_app.core.region import feather_alpha


@pytest.fixture
def files(tmp_path, sketch) -> dict[str, Path]:
    paths = {name: tmp_path / f"{name}.png" for name in ("sketch", "keep", "mask")}
    Image.fromarray(sketch).save(paths["sketch"])
    ramp = np.linspace(0, 255, 512).astype(np.uint8)
    keep = np.stack([np.tile(ramp, (512, 1)), np.tile(ramp[:, None], (1, 512)),
                     np.full((512, 512), 60, np.uint8)], axis=2)
    Image.fromarray(keep).save(paths["keep"])
    mask = np.zeros((512, 512), np.uint8)
    mask[100:200, 300:420] = 255
    Image.fromarray(mask).save(paths["mask"])
    return paths


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def render_args(files, out, model, *extra):
    return ["render", files["sketch"], "--prompt", "a red apple", "--out", out, "--model", model,
            *extra]


def changed_only_in(out: Path, keep: Path, mask: np.ndarray, feather: int) -> None:
    written, kept = np.asarray(Image.open(out)), np.asarray(Image.open(keep))
    outside = feather_alpha(mask, feather) == 0
    assert np.array_equal(written[outside], kept[outside])
    assert not np.array_equal(written[mask], kept[mask])


@pytest.mark.parametrize("as_rectangle", [False, True])
def test_a_region_frame_keeps_the_picture_outside(capsys, tmp_path, files, tiny_folder,
                                                  as_rectangle):
    out = tmp_path / "out.png"
    region = "300,100,120,100" if as_rectangle else files["mask"]
    code, stdout, err = run_cli(capsys, *render_args(
        files, out, tiny_folder, "--keep", files["keep"], "--region", region, "--feather", "8"))
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}")
    mask = np.zeros((512, 512), bool)
    mask[100:200, 300:420] = True
    changed_only_in(out, files["keep"], mask, 8)


def test_a_transparent_mask_pixel_may_not_change(capsys, tmp_path, files, tiny_folder):
    rgba = np.zeros((512, 512, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere, but opaque only in the region
    rgba[300:380, 50:150, 3] = 255
    Image.fromarray(rgba).save(files["mask"])
    out = tmp_path / "out.png"
    code, _, err = run_cli(capsys, *render_args(
        files, out, tiny_folder, "--keep", files["keep"], "--region", files["mask"]))
    assert code == 0, err
    mask = np.zeros((512, 512), bool)
    mask[300:380, 50:150] = True
    changed_only_in(out, files["keep"], mask, 16)


def _bad_mask(files, tmp_path, kind: str) -> Path:
    path = tmp_path / f"{kind}.png"
    if kind == "small":
        Image.new("L", (256, 256), 255).save(path)
    elif kind == "black":
        Image.new("L", (512, 512), 0).save(path)
    else:
        path.write_text("not an image")
    return path


@pytest.mark.parametrize(
    "extra,code,message",
    [
        (["--keep", "KEEP"], 1, "--keep needs --region"),
        (["--region", "MASK"], 1, "--region needs --keep"),
        (["--keep", "KEEP", "--region", "small"], 1, "the region mask is 256x256, and the sketch"),
        (["--keep", "KEEP", "--region", "black"], 1, "is empty: nothing may change"),
        (["--keep", "KEEP", "--region", "text"], 1, "is not an image file"),
        (["--keep", "KEEP", "--region", "600,10,20,20"], 1, "lies outside the 512x512 sketch"),
        (["--keep", "KEEP", "--region", "MASK", "--size", "256"], 1,
         "the --keep picture is 512x512, and the frame is 256x256"),
        (["--keep", "KEEP", "--region", "MASK", "--feather", "300"], 2, "feather must be"),
        (["--keep", "KEEP", "--region", "MASK", "--init", "KEEP"], 1,
         "--init and --region cannot be combined"),
    ],
)
def test_bad_region_input_is_one_line_and_writes_nothing(capsys, tmp_path, files, tiny_folder,
                                                         extra, code, message):
    names = {"KEEP": files["keep"], "MASK": files["mask"]}
    names |= {kind: _bad_mask(files, tmp_path, kind) for kind in ("small", "black", "text")}
    out = tmp_path / "o.png"
    args = render_args(files, out, tiny_folder, *(names.get(a, a) for a in extra))
    got, _, err = run_cli(capsys, *args)
    assert got == code and message in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()

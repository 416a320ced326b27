"""``live-canvas FILE`` with the window's options before it, after it, or on both sides: the
file is opened whichever way round they are typed (as a desktop launcher or a user types
them), and a FILE that names no image is still one line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from test_cli_tiny import isolated_env

from desktop_app import cli

ORDERS = {
    "file first": lambda f: [f, "--model", "tiny", "--device", "cpu"],
    "file last": lambda f: ["--model", "tiny", "--device", "cpu", f],
    "file between": lambda f: ["--model", "tiny", f, "--device", "cpu"],
    "value with =": lambda f: ["--model=tiny", f],
    "after a flag": lambda f: ["--compile", f, "--model", "tiny"],
    "after --": lambda f: ["--model", "tiny", "--", f],
}


@pytest.mark.parametrize("order", ORDERS)
def test_every_order_opens_the_file(order, tmp_path):
    picture = str(tmp_path / "my drawings" / "a tree.png")
    args = cli.build_parser().parse_args(
        cli.with_open_file(ORDERS[order](picture), cli.build_parser())
    )
    assert args.app_open == picture
    assert args.app_model == "tiny"


@pytest.mark.parametrize(
    "argv",
    [["render", "x.png", "--prompt", "p"], ["--model", "tiny", "render", "x.png"], ["models"]],
)
def test_a_command_is_not_taken_for_a_file(argv):
    assert cli.with_open_file(argv, cli.build_parser()) == argv


def test_a_mistyped_command_is_still_named(capsys):
    assert cli.main(["--model", "tiny", "rendr"]) == cli.EXIT_USAGE
    assert "invalid choice: 'rendr'" in capsys.readouterr().err


def run_window(home, argv) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *argv], env=isolated_env(home),
        capture_output=True, text=True, timeout=280,
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize("order", ["file first", "file last"])
def test_the_window_opens_the_file_in_either_order(order, tmp_path):
    folder = tmp_path / "my drawings"
    folder.mkdir()
    picture = np.zeros((64, 96, 3), np.uint8)
    picture[:, :48] = (200, 40, 10)
    Image.fromarray(picture).save(folder / "a tree.png")
    done = run_window(tmp_path, [*ORDERS[order](str(folder / "a tree.png")), "--quit-after", "0"])
    assert done.returncode == 0, done.stderr[-2000:]
    # A picture from another tool opens as the reference, and the autosave keeps it.
    saved = list((tmp_path / "data").rglob("autosave-reference.png"))
    assert len(saved) == 1, done.stderr[-2000:]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("order", ["file first", "file last"])
def test_a_file_that_names_no_image_is_one_line(order, tmp_path):
    missing = str(tmp_path / "my drawings" / "not here.png")
    done = run_window(tmp_path, [*ORDERS[order](missing), "--quit-after", "0"])
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "not here.png" in done.stderr

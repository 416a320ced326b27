"""``--lora`` on the command line and LoRA style names over ``live-canvas serve``."""

from __future__ import annotations

import numpy as np
import pytest
from lora_factory import lora_matrices, save_peft_lora
from PIL import Image

from desktop_app.cli import main
from desktop_app.core.metadata import read_parameters
from desktop_app.core.types import RenderRequest
from desktop_app.core.wire import WireError, pack, request_body, unpack
from desktop_app.engine.builders import build_tiny
from desktop_app.models.styles import short_hash
from desktop_app.serving.service import FrameService


@pytest.fixture(scope="module")
def ink(tmp_path_factory):
    folder = tmp_path_factory.mktemp("styles")
    return save_peft_lora(lora_matrices(build_tiny(), seed=5), folder / "ink.safetensors")


@pytest.fixture
def sketch_file(tmp_path, sketch):
    path = tmp_path / "sketch.png"
    Image.fromarray(sketch).save(path)
    return path


def render(capsys, sketch_file, out, *extra):
    code = main(["render", str(sketch_file), "--prompt", "ink", "--out", str(out),
                 "--model", "tiny", "--size", "256", *map(str, extra)])
    return (code, *capsys.readouterr())


def test_render_with_a_lora_records_it_and_changes_the_picture(capsys, tmp_path, sketch_file,
                                                               ink):
    code, _, err = render(capsys, sketch_file, tmp_path / "plain.png")
    assert code == 0, err
    code, _, err = render(capsys, sketch_file, tmp_path / "ink.png", "--lora", f"{ink}:0.8")
    assert code == 0, err
    text = read_parameters(tmp_path / "ink.png")
    assert text.startswith("ink <lora:ink:0.8>\n")
    assert f'Lora hashes: "ink: {short_hash(ink)}"' in text
    plain = np.asarray(Image.open(tmp_path / "plain.png"))
    styled = np.asarray(Image.open(tmp_path / "ink.png"))
    assert np.abs(plain.astype(int) - styled).mean() > 1.0


def test_a_style_name_is_found_in_the_styles_folder(capsys, tmp_path, sketch_file, ink,
                                                    monkeypatch):
    monkeypatch.setenv("LIVE_CANVAS_STYLES_DIR", str(ink.parent))
    code, _, err = render(capsys, sketch_file, tmp_path / "a.png", "--lora", "ink:0.8")
    assert code == 0, err
    code, _, err = render(capsys, sketch_file, tmp_path / "b.png", "--lora", f"{ink}:0.8")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")),
                                  np.asarray(Image.open(tmp_path / "b.png")))


@pytest.mark.parametrize("argument, code, words", [
    ("nowhere/ink.safetensors", 1, "LoRA file not found"),
    ("ink:9", 2, "between -2 and 2"),
    ("ink:much", 2, "must be a number"),
])
def test_bad_lora_arguments_are_one_line(capsys, tmp_path, sketch_file, argument, code, words,
                                        monkeypatch):
    monkeypatch.setenv("LIVE_CANVAS_STYLES_DIR", str(tmp_path))
    got, out, err = render(capsys, sketch_file, tmp_path / "x.png", "--lora", argument)
    assert got == code and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_a_server_resolves_style_names_among_its_own(engine, sketch, ink, monkeypatch,
                                                     tmp_path):
    monkeypatch.setenv("LIVE_CANVAS_STYLES_DIR", str(tmp_path))  # an empty styles folder
    service = FrameService(engine, styles=(str(ink),))
    assert service.info()["styles"] == ["ink"]
    try:
        # The client sends names only: its own path to the file never leaves it.
        request = RenderRequest(sketch=sketch, size=256, loras=(("/client/ink.safetensors", 1.0),))
        header, images = request_body(request)
        assert header["settings"]["loras"] == [["ink", 1.0]]
        reply, _ = unpack(service.frame(pack(header, images)))
        assert reply["params"]["loras"] == [["ink", 1.0, short_hash(ink)]]
        unknown = RenderRequest(sketch=sketch, size=256, loras=(("watercolour", 1.0),))
        with pytest.raises(WireError, match="no LoRA style named 'watercolour' .*ink"):
            service.frame(pack(*request_body(unknown)))
    finally:
        engine.set_loras(())

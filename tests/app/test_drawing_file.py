"""Exports that open again: what they carry, and every way a file can be refused."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from doubles import FakeEngine
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from desktop_app.app.drawing import Drawing
from desktop_app.app.drawing_file import DRAWING_KEY, STROKES, open_file
from desktop_app.app.jobs import ExportJob
from desktop_app.core.errors import SketchError
from desktop_app.core.metadata import read_parameters
from desktop_app.core.types import RenderRequest


@pytest.fixture
def drawing(sketch) -> Drawing:
    reference = np.zeros_like(sketch)
    reference[:, :256] = (30, 140, 200)
    lines = np.full_like(sketch, 255)
    lines[256] = 0
    return Drawing(sketch, reference, lines, opacity=0.35, visible=True, use_lines=False)


def export(tmp_path, drawing, **settings) -> str:
    engine = FakeEngine(model="fake")
    request = RenderRequest(sketch=drawing.lines(), prompt="ein Bär", seed=77, size=256, **settings)
    result = engine.render(request)
    return ExportJob(result, tmp_path, drawing=drawing).run(engine, lambda: False)


def test_an_export_carries_its_drawing_and_settings(tmp_path, drawing):
    path = export(tmp_path, drawing, mode="colour", strength=0.45, control_scale=1.3)
    assert read_parameters(path).startswith("ein Bär\n")  # other tools read it as ever
    opened = open_file(path)
    assert opened.image is None and opened.model == "fake"
    back = opened.drawing
    for name in ("strokes", "reference", "reference_lines"):
        assert np.array_equal(getattr(back, name), getattr(drawing, name)), name
    assert (back.opacity, back.visible, back.use_lines) == (0.35, True, False)
    assert opened.settings == {
        "prompt": "ein Bär",
        "mode": "colour",
        "control_scale": 1.3,
        "strength": 0.45,
        "seed": 77,
        "steps": 1,
        "size": 256,
        "reference_opacity": 0.35,
        "reference_visible": True,
        "reference_lines": False,
        "loras": (),
        "prompt_style": "",
    }


def test_an_export_without_a_reference(tmp_path, sketch):
    opened = open_file(export(tmp_path, Drawing(sketch)))
    assert opened.drawing.reference is None and "strength" not in opened.settings


def test_a_picture_from_another_tool_opens_as_a_reference_with_its_prompt(tmp_path, sketch):
    info = PngInfo()
    info.add_text(
        "parameters",
        "a castle on a hill\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, "
        "Seed: 5, Size: 512x512, Model: sd15",
    )
    path = tmp_path / "a1111.png"
    Image.fromarray(sketch).save(path, pnginfo=info)
    opened = open_file(path)
    assert opened.drawing is None and np.array_equal(opened.image, sketch)
    assert opened.prompt == "a castle on a hill"
    jpeg = tmp_path / "photo.jpg"
    Image.fromarray(sketch).save(jpeg)
    assert open_file(jpeg).prompt is None and open_file(jpeg).image.shape == sketch.shape


def _rewrite(path, header=None, chunk=None):
    """``path`` again, with its live-canvas header replaced and/or a private chunk added."""
    with Image.open(path) as image:
        info = PngInfo()
        text = dict(image.text)
        if header is not None:
            text[DRAWING_KEY] = header if isinstance(header, str) else json.dumps(header)
        for key, value in text.items():
            info.add_text(key, value)
        if chunk is not None:
            info.add(*chunk)
        out = path.with_name("hostile.png")
        image.save(out, pnginfo=info)
    return out


def _header(path):
    with Image.open(path) as image:
        return json.loads(image.text[DRAWING_KEY])


def _png_claiming(side):
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    head = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def test_hostile_or_broken_exports_are_refused_in_one_line(tmp_path, drawing):
    path = Path(export(tmp_path, Drawing(drawing.strokes)))
    good = _header(path)
    cases = {
        "not JSON": _rewrite(path, header="{nope"),
        "a wrong type": _rewrite(
            path, header={**good, "settings": {**good["settings"], "seed": "x"}}
        ),
        "out of range": _rewrite(
            path, header={**good, "settings": {**good["settings"], "size": 100}}
        ),
        "an unknown setting": _rewrite(path, header={**good, "settings": {"brush": 3}}),
        "another format": _rewrite(path, header={**good, "format": 99}),
        "not a table": _rewrite(path, header=[1, 2]),
        "a bomb inside": _rewrite(path, chunk=(STROKES, _png_claiming(60000))),
    }
    for name, hostile in cases.items():
        with pytest.raises(SketchError) as caught:
            open_file(hostile)
        message = str(caught.value)
        assert message.startswith("hostile.png") and "\n" not in message, (name, message)


def test_a_damaged_or_lying_chunk_is_refused(tmp_path, sketch):
    path = tmp_path / export(tmp_path, Drawing(sketch))
    data = bytearray(open(path, "rb").read())
    at = data.index(STROKES)
    damaged = bytearray(data)
    damaged[at + 10] ^= 0xFF  # a byte of the strokes' data: its CRC no longer matches
    lying = bytearray(data)
    lying[at - 4 : at] = struct.pack(">I", 2**31)  # a length the file does not hold
    for name, content, words in (
        ("damaged.png", damaged, "damaged"),
        ("lying.png", lying, "does not hold|cannot be read"),
        ("cut.png", data[: at + 20], "cut.png"),
    ):
        target = tmp_path / name
        target.write_bytes(bytes(content))
        with pytest.raises(SketchError, match=words):
            open_file(target)


def test_a_text_bomb_is_refused(tmp_path, sketch):
    info = PngInfo()
    info.add_text(DRAWING_KEY, "0" * (50 * 1024 * 1024), zip=True)  # 50 MB, squeezed
    path = tmp_path / "bomb.png"
    Image.fromarray(sketch).save(path, pnginfo=info)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(SketchError, match="bomb.png"):
        open_file(path)


def test_a_png_with_no_strokes_chunk_is_refused(tmp_path, sketch):
    info = PngInfo()
    info.add_text(DRAWING_KEY, json.dumps({"format": 1, "settings": {"seed": 3}}))
    path = tmp_path / "hollow.png"
    Image.fromarray(sketch).save(path, pnginfo=info)
    with pytest.raises(SketchError, match="its strokes are missing"):
        open_file(path)


def test_an_exports_lora_styles_come_back_when_the_files_are_here(tmp_path, drawing,
                                                                   monkeypatch):
    styles = tmp_path / "styles"
    styles.mkdir()
    (styles / "ink.safetensors").write_bytes(b"x")
    monkeypatch.setenv("LIVE_CANVAS_STYLES_DIR", str(styles))
    loras = (("/elsewhere/ink.safetensors", 0.6), ("/elsewhere/wash.safetensors", -0.5))
    path = export(tmp_path, drawing, loras=loras)
    assert "<lora:ink:0.6> <lora:wash:-0.5>" in read_parameters(path)
    opened = open_file(path)
    assert opened.settings["loras"] == ((str(styles / "ink.safetensors"), 0.6),)
    assert opened.notes == (f"LoRA style 'wash' is not in {styles}: opened without it",)

"""An export opened again to keep working: its strokes, reference and settings come back,
and with the same model its first frame is the exported preview, pixel for pixel."""

from __future__ import annotations

import numpy as np
import pytest
from doubles import FakeEngine
from drawing import stroke
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from test_reference import _drop

from desktop_app.app import engine_api
from desktop_app.app.drawing import Drawing
from desktop_app.app.jobs import ExportJob
from desktop_app.cli import main
from desktop_app.core.types import RenderRequest
from desktop_app.ui.startup import create_window


@pytest.fixture
def canny(monkeypatch):
    """The reference's line art without controlnet-aux's import (predictable and quick)."""

    def lineart(image):
        out = np.full_like(image, 255)
        out[image.mean(axis=2) < 60] = 0
        return out

    monkeypatch.setattr(engine_api, "lineart_from_photo", lineart)


def _tiny_window(qtbot, tmp_path, qsettings, name):
    """The window as ``live-canvas --model tiny`` builds it (the real tiny engine)."""
    qsettings.setValue("export_dir", str(tmp_path / "exports"))
    window = create_window(
        model="tiny", device="cpu", qsettings=qsettings, data_dir=tmp_path / name, restore=False
    )
    qtbot.addWidget(window)
    window.show()
    window.start()
    return window


def _photo(tmp_path):
    image = np.zeros((200, 200, 3), np.uint8)
    image[:, :100] = (20, 150, 60)
    image[:, 100:] = (210, 190, 40)
    image[90:110] = 0
    path = tmp_path / "photo.png"
    Image.fromarray(image).save(path)
    return path


def test_the_first_frame_of_an_opened_export_is_its_preview(qtbot, tmp_path, qsettings, canny):
    window = _tiny_window(qtbot, tmp_path, qsettings, "first")
    qtbot.waitUntil(lambda: window.controller.gate.engine_info is not None, timeout=60_000)
    state = window.state
    state.apply({"prompt": "a lake at dawn", "seed": 1234, "mode": "colour", "strength": 0.7})
    state.apply({"control_scale": 1.4, "reference_opacity": 0.8})
    window.import_image(str(_photo(tmp_path)))
    stroke(qtbot, window.canvas)
    frames = window.controller.frames
    qtbot.waitUntil(lambda: window.canvas.reference.lines is not None, timeout=30_000)
    window.controller.frames.request_frame()

    def settled() -> bool:
        drawing = frames.drawing_of(frames.current) if frames.current else None
        return (
            drawing is not None
            and drawing.reference_lines is not None
            and np.array_equal(drawing.strokes, window.canvas.to_numpy())
        )

    qtbot.waitUntil(settled, timeout=60_000)
    preview = frames.current.image.copy()
    with qtbot.waitSignal(window.controller.exports.export_finished, timeout=120_000) as done:
        window.export_action.trigger()
    exported = done.args[0]

    again = _tiny_window(qtbot, tmp_path, qsettings, "second")
    qtbot.waitUntil(lambda: again.controller.gate.engine_info is not None, timeout=60_000)
    again.open_file(exported)
    assert again.state.prompt == "a lake at dawn" and again.state.seed == 1234
    assert again.state.mode == "colour" and again.state.strength == pytest.approx(0.7)
    assert again.state.control_scale == pytest.approx(1.4)
    assert np.array_equal(again.canvas.to_numpy(), window.canvas.to_numpy())
    assert np.array_equal(again.canvas.reference.rgb(), window.canvas.reference.rgb())
    again_frames = again.controller.frames
    qtbot.waitUntil(
        lambda: (
            again_frames.current is not None
            and np.array_equal(
                again_frames.drawing_of(again_frames.current).strokes, again.canvas.to_numpy()
            )
        ),
        timeout=60_000,
    )
    assert np.array_equal(again_frames.current.image, preview)
    again.canvas.undo_stack.undo()  # opening was one step
    assert again.canvas.reference.image is None and (again.canvas.to_numpy() == 255).all()


def test_dropping_files_opens_exports_and_takes_other_pictures_as_references(
    qtbot, make_window, tmp_path, canny
):
    window = make_window(FakeEngine(), start=False)
    info = PngInfo()
    info.add_text("parameters", "a red barn\nSteps: 4, Sampler: Euler, Seed: 9, Size: 64x64")
    other = tmp_path / "other.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(other, pnginfo=info)
    _drop(window.canvas, other)
    assert window.canvas.reference.image is not None and window.state.prompt == "a red barn"
    assert (window.canvas.to_numpy() == 255).all()  # the strokes are not touched


def test_a_hostile_export_changes_nothing(qtbot, make_window, tmp_path, canny):
    window = make_window(FakeEngine(), start=False)
    stroke(qtbot, window.canvas)
    before, steps, prompt = window.canvas.to_numpy(), window.canvas.undo_stack.count(), "kept"
    window.state.prompt = prompt
    info = PngInfo()
    info.add_text("live-canvas", '{"format": 1, "settings": {"seed": "lots"}}')
    hostile = tmp_path / "hostile.png"
    Image.new("RGB", (64, 64)).save(hostile, pnginfo=info)
    _drop(window.canvas, hostile)
    message = window.error_banner.text()
    assert message.startswith("hostile.png cannot be opened") and "seed" in message
    assert np.array_equal(window.canvas.to_numpy(), before)
    assert window.canvas.undo_stack.count() == steps and window.state.prompt == prompt


def test_live_canvas_file_names_a_bad_file_in_one_line(capsys, tmp_path):
    assert main([str(tmp_path / "gone.png")]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"live-canvas: error: {tmp_path / 'gone.png'} does not exist"
    )


def test_opening_is_one_undo_step_for_everything_it_changed(qtbot, make_window, tmp_path):
    sketch = np.full((256, 256, 3), 255, np.uint8)
    sketch[100:110] = 0
    reference = np.zeros_like(sketch)
    reference[:, :128] = (30, 140, 200)
    made = Drawing(sketch, reference, None, opacity=0.6, visible=True, use_lines=False)
    engine = FakeEngine(model="fake")
    request = RenderRequest(sketch=sketch, prompt="a harbour", seed=4242, size=256,
                            mode="colour", strength=0.55, control_scale=1.25)
    exported = ExportJob(engine.render(request), tmp_path, drawing=made).run(engine, lambda: False)

    window = make_window(FakeEngine())
    state = window.state
    state.apply({"prompt": "my own words", "seed": 7, "mode": "scribble", "control_scale": 0.8})
    stroke(qtbot, window.canvas)
    before_strokes = window.canvas.to_numpy()
    before = state.snapshot()
    window.open_file(exported)
    assert (state.prompt, state.seed, state.mode) == ("a harbour", 4242, "colour")
    assert state.reference_opacity == pytest.approx(0.6)
    assert window.canvas.reference.image is not None
    opened_strokes = window.canvas.to_numpy()
    assert not np.array_equal(opened_strokes, before_strokes)

    window.canvas.undo_stack.undo()
    assert state.snapshot() == before  # prompt, seed, mode, scales, reference look: all back
    assert np.array_equal(window.canvas.to_numpy(), before_strokes)
    assert window.canvas.reference.image is None
    window.canvas.undo_stack.redo()
    assert (state.prompt, state.seed, state.mode) == ("a harbour", 4242, "colour")
    assert np.array_equal(window.canvas.to_numpy(), opened_strokes)

"""Export (full-quality PNG with a parameters chunk) and the autosave round trip."""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np
from doubles import FakeEngine
from PIL import Image

from desktop_app.app import files
from desktop_app.app.state import LiveState


def parameters_of(path) -> str:
    with Image.open(path) as image:
        return image.info.get("parameters") or image.text.get("parameters")


def shown(qtbot, controller):
    with qtbot.waitSignal(controller.gate.engine_loaded, timeout=5000):
        controller.load_model()
    qtbot.waitUntil(lambda: controller.frames.current is not None, timeout=5000)


def test_export_writes_a_png_with_prompt_and_seed(qtbot, rig, tmp_path):
    engine = FakeEngine()
    controller = rig(engine)
    controller.state.prompt = "a lighthouse in a storm"
    controller.state.seed = 4242
    shown(qtbot, controller)
    qtbot.waitUntil(lambda: controller.frames.current.params.seed == 4242, timeout=5000)
    controller.state.save_sketch = True
    with qtbot.waitSignal(controller.exports.export_finished, timeout=5000) as done:
        controller.exports.export()
    path = done.args[0]
    assert path.endswith("-4242.png") and "live-canvas-" in path
    text = parameters_of(path)
    assert "a lighthouse in a storm" in text and "Seed: 4242" in text
    assert engine.exported == [controller.frames.current.request_id]  # the full-quality decode ran
    assert files.sketch_path(files.Path(path)).exists()
    with qtbot.waitSignal(controller.exports.export_finished, timeout=5000) as again:
        controller.exports.export()
    assert again.args[0] != path  # never overwrites


def test_export_to_an_impossible_folder_fails_cleanly(qtbot, rig, tmp_path):
    controller = rig()
    shown(qtbot, controller)
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    controller.state.export_dir = str(blocker / "out")
    with qtbot.waitSignal(controller.exports.export_failed, timeout=5000) as failed:
        controller.exports.export()
    assert failed.args[0].startswith("Export failed:")
    assert "\n" not in failed.args[0]
    assert sorted(p.name for p in tmp_path.rglob("*.png")) == []


def test_export_without_a_picture_says_so(qtbot, rig):
    controller = rig()
    with qtbot.waitSignal(controller.exports.export_failed, timeout=1000) as failed:
        controller.exports.export()
    assert "no generated image" in failed.args[0]


def test_export_names_count_up_instead_of_overwriting(tmp_path):
    now = datetime(2025, 1, 2, 3, 4, 5)
    first = files.export_path(tmp_path, 7, now)
    assert first.name == "live-canvas-20250102-030405-7.png"
    first.write_bytes(b"x")
    second = files.export_path(tmp_path, 7, now)
    assert second.name == "live-canvas-20250102-030405-7-1.png"
    second.write_bytes(b"x")
    assert files.export_path(tmp_path, 7, now).name == "live-canvas-20250102-030405-7-2.png"


def test_autosave_round_trips_sketch_and_prompt(qtbot, rig, tmp_path):
    controller = rig()
    controller.sketch.draw()
    controller.sketch.array[10:20, 30:40] = (200, 30, 40)
    controller.state.prompt = "a red square"
    controller.state.seed = 99
    controller.state.mode = "colour"
    controller.session.save_soon_now()
    controller.session.wait()
    # Atomic writes leave exactly the two files, no temporary ones beside them.
    written = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert written == ["autosave-session.json", "autosave-sketch.png"]

    again = rig()
    again.state.prompt = ""
    sketch = again.restore_session()
    assert np.array_equal(sketch, controller.sketch.array)
    assert again.state.prompt == "a red square"
    assert again.state.seed == 99 and again.state.mode == "colour"


def test_autosave_happens_soon_after_a_setting_changes(qtbot, rig, tmp_path, monkeypatch):
    controller = rig()
    controller.session._timer.setInterval(50)
    controller.state.prompt = "changed"
    qtbot.waitUntil(lambda: (tmp_path / "data" / "autosave-session.json").exists(), timeout=3000)


def test_saves_faster_than_the_disk_do_not_pile_up_and_the_newest_lands(
    qtbot, rig, tmp_path, monkeypatch
):
    controller = rig()
    keeper = controller.session
    written: list[str] = []
    real_save = keeper.autosave.save

    def slow_save(sketch, session, reference):
        time.sleep(0.05)  # a slow disk: each save takes longer than a stroke
        written.append(session["prompt"])
        real_save(sketch, session, reference)

    monkeypatch.setattr(keeper.autosave, "save", slow_save)
    for n in range(30):
        controller.state.prompt = f"stroke {n}"
        keeper.save_soon_now()
    assert keeper.busy
    with qtbot.waitSignal(keeper.saved, timeout=5000):
        pass
    assert not keeper.busy
    assert written[-1] == "stroke 29"  # the newest state is the one on disk
    assert len(written) < 5  # the waiting ones were replaced, not queued
    assert written == sorted(written, key=lambda p: int(p.split()[1]))  # never older after newer
    again = rig()
    again.restore_session()
    assert again.state.prompt == "stroke 29"


def test_state_apply_keeps_only_values_its_settings_allow(qtbot):
    state = LiveState()
    state.apply({"seed": 12, "strength": "oops", "colour": 3, "prompt": "x",
                 "control_scale": 1e9, "mode": "nope"})
    assert state.seed == 12 and state.prompt == "x"
    assert state.strength == 0.6 and state.control_scale == 1.0 and state.mode == "scribble"

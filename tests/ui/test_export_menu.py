"""Export options: the sketch beside each export, the export folder, kept across restarts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from doubles import FakeEngine
from PIL import Image


def test_sketch_is_saved_beside_the_export_into_the_chosen_folder(qtbot, make_window, tmp_path):
    window = make_window(FakeEngine())
    qtbot.waitUntil(lambda: window.controller.frames.current is not None, timeout=5000)
    folder = tmp_path / "my exports"
    window.export_menu.set_folder(folder)
    window.export_menu.sketch_action.setChecked(True)
    assert str(folder) in window.export_menu.folder_action.text()
    with qtbot.waitSignal(window.controller.exports.export_finished, timeout=5000) as done:
        window.export_action.trigger()
    picture = Path(done.args[0])
    sketch = picture.with_name(picture.stem + "-sketch.png")
    assert picture.parent == folder and picture.exists() and sketch.exists()
    np.testing.assert_array_equal(np.asarray(Image.open(sketch)), window.canvas.to_numpy())
    assert window.state.export_dir == str(folder) and window.state.save_sketch is True


def test_export_without_the_sketch_writes_one_file(qtbot, make_window, tmp_path):
    window = make_window(FakeEngine())
    qtbot.waitUntil(lambda: window.controller.frames.current is not None, timeout=5000)
    assert not window.export_menu.sketch_action.isChecked()
    with qtbot.waitSignal(window.controller.exports.export_finished, timeout=5000) as done:
        window.export_action.trigger()
    assert [p.name for p in Path(done.args[0]).parent.iterdir()] == [Path(done.args[0]).name]

"""The timelapse in the window: off by default, a visible indicator while recording, the
export dialog, a recording left by an earlier run (crashed) exported after a restart, and a
damaged spool or an unwritable place said in one line."""

from __future__ import annotations

import numpy as np
from doubles import FakeEngine
from drawing import stroke
from PIL import Image
from PySide6.QtCore import QSettings

from desktop_app.app.timelapse import spool as timelapse_spool


def _new_frame(qtbot, window, start=(0.2, 0.2), end=(0.7, 0.6)) -> None:
    shown = window.controller.frames.current
    stroke(qtbot, window.canvas, start, end)
    qtbot.waitUntil(lambda: window.controller.frames.current is not shown, timeout=5000)


def _first_frame(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.controller.frames.current is not None, timeout=5000)


def test_recording_is_off_by_default_and_shows_no_indicator(qtbot, make_window, tmp_path):
    window = make_window(FakeEngine())
    _first_frame(qtbot, window)
    _new_frame(qtbot, window)
    assert not window.record_action.isChecked() and not window.state.timelapse_recording
    assert window.timelapse_indicator.isHidden()
    window.controller.timelapse.wait()
    assert timelapse_spool.segments(tmp_path / "data" / "timelapse") == []


def test_the_indicator_counts_frames_while_recording(qtbot, make_window):
    window = make_window(FakeEngine())
    _first_frame(qtbot, window)
    window.record_action.trigger()
    assert window.state.timelapse_recording and window.timelapse_indicator.isVisible()
    assert window.timelapse_indicator.text().startswith("● REC")
    _new_frame(qtbot, window)
    _new_frame(qtbot, window, (0.3, 0.8), (0.8, 0.2))
    qtbot.waitUntil(lambda: window.timelapse_indicator.text() == "● REC 2 frames", timeout=5000)
    window.record_action.trigger()
    assert window.timelapse_indicator.text() == "timelapse: 2 frames"  # kept, to export


def test_a_crashed_runs_recording_is_exported_after_a_restart(qtbot, make_window, tmp_path):
    data = tmp_path / "shared-data"
    first = make_window(FakeEngine(), data_dir=data)
    _first_frame(qtbot, first)
    first.record_action.trigger()
    _new_frame(qtbot, first)
    _new_frame(qtbot, first, (0.3, 0.8), (0.8, 0.2))
    picture = first.controller.frames.current.image
    first.controller.timelapse.wait()  # flushed; the window is never closed: a crash
    later = QSettings(str(tmp_path / "later.ini"), QSettings.Format.IniFormat)
    again = make_window(FakeEngine(), data_dir=data, settings=later, start=False)
    qtbot.waitUntil(lambda: again.timelapse_indicator.text() == "timelapse: 2 frames")
    assert not again.state.timelapse_recording
    dialog = again.timelapse_menu.open_dialog()
    assert dialog.export_button.isEnabled() and "2 frames" in dialog.summary.text()
    dialog.format_box.setCurrentIndex(dialog.format_box.findData("webp"))
    assert again.state.timelapse_format == "webp"
    out = tmp_path / "film.webp"
    with qtbot.waitSignal(again.controller.timelapse_exports.finished, timeout=20_000):
        dialog.export_to(out)
    assert "Timelapse exported" in again.statusBar().currentMessage()
    with Image.open(out) as film:
        assert film.n_frames == 2
        film.seek(1)
        last = np.asarray(film.convert("RGB")).astype(int)
    width = last.shape[1]
    assert np.abs(last[:, width // 2 :] - picture).mean() < 6  # sketch | picture
    assert not dialog.isVisible()


def test_a_damaged_spool_neither_stops_the_start_nor_the_export(qtbot, make_window, tmp_path):
    spool = tmp_path / "data" / "timelapse"
    spool.mkdir(parents=True)
    (spool / "segment-000001.lctl").write_bytes(np.random.default_rng(3).bytes(10_000))
    window = make_window(FakeEngine())
    _first_frame(qtbot, window)
    window.record_action.trigger()
    _new_frame(qtbot, window)
    qtbot.waitUntil(lambda: window.controller.timelapse.frame_count == 1, timeout=5000)
    with qtbot.waitSignal(window.controller.timelapse_exports.finished, timeout=20_000):
        window.timelapse_menu.open_dialog().export_to(tmp_path / "film.mp4")
    assert (tmp_path / "film.mp4").stat().st_size > 0
    message = window.error_banner.text()  # what was dropped, in one line
    assert "segment-000001.lctl" in message and "\n" not in message


def test_an_unwritable_place_is_a_message_in_the_dialog(qtbot, make_window, tmp_path):
    window = make_window(FakeEngine())
    _first_frame(qtbot, window)
    window.record_action.trigger()
    _new_frame(qtbot, window)
    qtbot.waitUntil(lambda: window.controller.timelapse.frame_count == 1, timeout=5000)
    (tmp_path / "a-file").write_bytes(b"")
    dialog = window.timelapse_menu.open_dialog()
    with qtbot.waitSignal(window.controller.timelapse_exports.failed, timeout=20_000):
        dialog.export_to(tmp_path / "a-file" / "film.mp4")
    assert dialog.isVisible() and dialog.error.isVisible()
    text = dialog.error.text()
    assert text.startswith("Timelapse export failed: cannot write") and "\n" not in text
    assert dialog.export_button.isEnabled()  # try again elsewhere

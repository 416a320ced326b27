"""The main window on a fake engine: live frames, errors, model failure, export, autosave."""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
from doubles import FakeEngine
from drawing import first_frame, stroke
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from desktop_app.app import controller as controller_module
from desktop_app.core.errors import ModelLoadError


def test_live_drawing_updates_the_picture(qtbot, make_window):
    window = make_window(FakeEngine())
    before = first_frame(qtbot, window)
    stroke(qtbot, window.canvas)
    qtbot.waitUntil(lambda: not np.array_equal(window.preview.to_numpy(), before), timeout=5000)
    assert window.model_label.text() == "model: fake"
    assert window.latency_label.text().endswith("ms")


def test_generate_button_when_live_is_off(qtbot, make_window):
    engine = FakeEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    window.controls.live.click()
    assert not window.state.live and window.controls.generate.isEnabled()
    count = len(engine.rendered)
    stroke(qtbot, window.canvas)
    qtbot.wait(300)
    assert len(engine.rendered) == count  # nothing renders by itself
    window.controls.generate.click()
    qtbot.waitUntil(lambda: len(engine.rendered) == count + 1, timeout=5000)


def test_a_render_error_is_shown_and_the_next_frame_renders(qtbot, make_window):
    engine = FakeEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    engine.fail_next = 1
    stroke(qtbot, window.canvas)
    qtbot.waitUntil(window.error_banner.isVisible, timeout=5000)
    assert "ran out of memory" in window.error_banner.text()
    shown = window.controller.frames.current
    stroke(qtbot, window.canvas, (0.1, 0.8), (0.8, 0.9))
    qtbot.waitUntil(lambda: window.controller.frames.current is not shown, timeout=5000)
    assert not window.error_banner.isVisible()


def test_a_model_that_fails_to_load_leaves_a_sketch_tool(qtbot, make_window):
    window = make_window(error=ModelLoadError("the folder /nope holds no model"))
    qtbot.waitUntil(window.load_banner.isVisible, timeout=5000)
    assert "the folder /nope holds no model" in window.load_banner.text()
    assert [b.text() for b in window.load_banner.buttons] == ["Use the tiny test model"]
    stroke(qtbot, window.canvas)
    assert (window.canvas.to_numpy() < 128).any()
    assert not window.error_banner.isVisible()


def test_noise_models_say_so(qtbot, make_window):
    window = make_window(FakeEngine(is_noise=True))
    qtbot.waitUntil(window.noise_banner.isVisible, timeout=5000)
    assert "noise" in window.noise_banner.text()


def test_strength_follows_the_mode_and_seed_lock(qtbot, make_window):
    window = make_window(FakeEngine(), start=False)
    controls = window.controls
    assert not controls.strength.isEnabled()
    controls.mode.setCurrentIndex(controls.mode.findData("colour"))
    assert window.state.mode == "colour" and controls.strength.isEnabled()
    window.state.control_scale = 1.5
    assert controls.control_scale.value() == 150
    controls.seed_lock.click()
    assert window.state.seed_locked and not controls.dice.isEnabled()


def test_export_failure_shows_an_error_and_writes_nothing(qtbot, make_window, tmp_path):
    window = make_window(FakeEngine())
    first_frame(qtbot, window)
    (tmp_path / "file.txt").write_text("x")
    window.state.export_dir = str(tmp_path / "file.txt" / "out")
    window.export_action.trigger()
    qtbot.waitUntil(window.error_banner.isVisible, timeout=5000)
    assert "Export failed" in window.error_banner.text()
    assert not list(tmp_path.rglob("*.png"))


def test_export_from_the_window(qtbot, make_window, tmp_path):
    window = make_window(FakeEngine())
    first_frame(qtbot, window)
    with qtbot.waitSignal(window.controller.exports.export_finished, timeout=5000) as done:
        window.export_action.trigger()
    assert done.args[0].startswith(str(tmp_path / "exports"))


def closed(qtbot, window, timeout=5000) -> bool:
    """Close the window as Ctrl+Q does and wait for the close to end; True when in time."""
    with qtbot.waitSignal(window.closed, timeout=timeout) as done:
        window.quit_action.trigger()
    return done.args[0]


def test_closing_during_a_render_hides_at_once_and_cancels_the_frame(qtbot, make_window):
    engine = FakeEngine(delay_s=0.05)
    window = make_window(engine)
    first_frame(qtbot, window)
    engine.delay_s = 30.0  # a frame no close may wait for
    engine.started.clear()
    window.controller.frames.generate()
    assert engine.started.wait(5)
    start = time.monotonic()
    with qtbot.waitSignal(window.closed, timeout=3000) as done:
        window.quit_action.trigger()
        assert not window.isVisible()  # hidden before anything is waited for
        assert time.monotonic() - start < 0.5
    assert done.args == [True] and time.monotonic() - start < 2.0
    assert len(engine.cancelled) == 1 and not window.controller.worker.isRunning()


def export_waits_for(engine: FakeEngine) -> threading.Event:
    """Make ``engine``'s exports wait (without asking should_cancel) until the event is set,
    as an export does while it writes its file."""
    release = threading.Event()
    exported = engine.export_image
    engine.export_image = lambda result, _cancel=None: (release.wait(10), exported(result))[1]
    return release


def test_closing_with_a_queued_export_finishes_it_with_a_cancellable_dialog(
    qtbot, make_window, tmp_path
):
    engine = FakeEngine(delay_s=0.05)
    window = make_window(engine)
    first_frame(qtbot, window)
    release = export_waits_for(engine)
    window.export_action.trigger()
    window.quit_action.trigger()
    qtbot.waitUntil(lambda: window.closing_dialog is not None
                    and window.closing_dialog.isVisible(), timeout=3000)
    assert "Finishing the export" in window.closing_dialog.labelText()
    with qtbot.waitSignal(window.closed, timeout=5000) as done:
        release.set()
    assert done.args == [True]
    assert len(list((tmp_path / "exports").glob("live-canvas-*.png"))) == 1


def test_quitting_without_waiting_cancels_the_export_being_decoded(qtbot, make_window, tmp_path):
    engine = FakeEngine(delay_s=0.05)
    window = make_window(engine)
    first_frame(qtbot, window)
    engine.export_delay_s = 30.0  # a full-VAE decode on a slow CPU, block by block...
    engine.block_s = 0.3  # ...each block longer than the autosave takes: the close waits
    window.export_action.trigger()
    window.export_action.trigger()  # a second one, queued behind the first
    window.quit_action.trigger()
    qtbot.waitUntil(lambda: window.closing_dialog is not None, timeout=3000)
    (button,) = window.closing_dialog.findChildren(QPushButton)
    start = time.monotonic()
    with qtbot.waitSignal(window.closed, timeout=3000) as done:
        button.click()
    assert done.args == [True] and time.monotonic() - start < 2.0  # stopped within a block
    assert not window.background_threads_running()
    assert len(engine.cancelled) == 1 and engine.exported == []
    assert list((tmp_path / "exports").glob("*.png")) == []  # nothing half-written


def test_escape_on_the_closing_dialog_is_quit_without_waiting(qtbot, make_window, tmp_path):
    engine = FakeEngine(delay_s=0.05)
    window = make_window(engine)
    first_frame(qtbot, window)
    engine.export_delay_s = 30.0
    window.export_action.trigger()
    window.quit_action.trigger()
    qtbot.waitUntil(lambda: window.closing_dialog is not None
                    and window.closing_dialog.isVisible(), timeout=3000)
    with qtbot.waitSignal(window.closed, timeout=3000) as done:
        QTest.keyClick(window.closing_dialog, Qt.Key.Key_Escape)
    assert done.args == [True] and engine.exported == []


def test_quitting_without_waiting_for_an_export_that_cannot_stop_closes_at_its_deadline(
    qtbot, make_window, tmp_path, monkeypatch
):
    monkeypatch.setattr(controller_module, "ABANDON_DEADLINE_MS", 300)
    engine = FakeEngine(delay_s=0.05)
    window = make_window(engine)
    first_frame(qtbot, window)
    release = export_waits_for(engine)  # past its decode: it asks should_cancel no more
    window.export_action.trigger()
    window.export_action.trigger()  # a second one, queued behind the first
    window.quit_action.trigger()
    qtbot.waitUntil(lambda: window.closing_dialog is not None, timeout=3000)
    (button,) = window.closing_dialog.findChildren(QPushButton)
    assert button.text() == "Quit without waiting"
    start = time.monotonic()
    with qtbot.waitSignal(window.closed, timeout=3000) as done:
        button.click()
        assert window.isHidden() and not window.closing_dialog.isVisible()
    assert done.args == [False]  # the export being written could not be stopped...
    assert time.monotonic() - start >= 0.25  # ...in the time it was given (a coarse timer)
    assert window.background_threads_running()
    release.set()
    qtbot.waitUntil(lambda: not window.controller.worker.isRunning(), timeout=5000)
    # The running export completed atomically; the queued one was dropped.
    assert len(list((tmp_path / "exports").glob("live-canvas-*.png"))) == 1


def test_sketch_prompt_and_settings_survive_a_restart(qtbot, make_window, qsettings, tmp_path):
    window = make_window(FakeEngine())
    stroke(qtbot, window.canvas)
    window.controls.prompt.setPlainText("a fox in the snow")
    window.canvas.brush_size = 17
    window.set_layout("stacked")
    window.export_menu.set_folder(tmp_path / "elsewhere")
    window.export_menu.sketch_action.trigger()
    sketch = window.canvas.to_numpy()
    assert closed(qtbot, window)

    again = make_window(FakeEngine(), start=False)
    assert np.array_equal(again.canvas.to_numpy(), sketch)
    assert again.controls.prompt.toPlainText() == "a fox in the snow"
    assert again.canvas.brush_size == 17
    assert again.layout_action.isChecked()
    assert again.state.save_sketch and again.export_menu.sketch_action.isChecked()
    assert again.export_menu.folder() == tmp_path / "elsewhere"
    assert not again.restore_banner.isVisible()  # nothing was dropped


def test_filmstrip_collects_settled_frames_and_restores_settings(qtbot, make_window):
    window = make_window(FakeEngine())
    first_frame(qtbot, window)
    window.state.prompt = "first"
    qtbot.waitUntil(lambda: window.filmstrip.count() >= 1
                    and window.controller.history.entries[0].result.params.prompt == "first",
                    timeout=5000)
    entry = window.controller.history.entries[0]
    window.state.prompt = "second"
    window.state.seed = 5
    window.filmstrip.restore_requested.emit(entry.entry_id)
    assert window.state.prompt == "first" and window.state.seed == entry.result.params.seed
    window.controller.history.set_pinned(entry.entry_id, True)
    assert window.filmstrip.item(0).text().startswith("📌")


def test_gui_command_quits_after_the_first_frame(qtbot, monkeypatch, tmp_path):
    from doubles import fake_loader

    from desktop_app.app import engine_api
    from desktop_app.commands import gui
    from desktop_app.ui import startup

    monkeypatch.setattr(engine_api, "load_engine", fake_loader(FakeEngine()))
    monkeypatch.setattr(startup, "app_data_dir", lambda: tmp_path / "data")
    parser = argparse.ArgumentParser()
    gui.add_arguments(parser)
    args = parser.parse_args(["--model", "fake", "--quit-after-first-frame"])
    assert gui.run(args) == 0


def test_photo_as_line_art_goes_on_the_strokes(qtbot, make_window, tmp_path, monkeypatch):
    from PIL import Image

    from desktop_app.app import engine_api

    window = make_window(FakeEngine())
    photo = np.zeros((60, 60, 3), np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    blank = window.canvas.to_numpy()
    calls = []

    def lineart(image):
        calls.append(image.shape)
        return np.full_like(image, 7)

    monkeypatch.setattr(engine_api, "lineart_from_photo", lineart)
    with qtbot.waitSignal(window.controller.lineart_ready, timeout=5000):
        window.import_lineart(str(path))
    assert calls == [(60, 60, 3)]
    assert (window.canvas.to_numpy() == 7).all()
    window.canvas.undo_stack.undo()
    assert np.array_equal(window.canvas.to_numpy(), blank)
    window.import_lineart(str(tmp_path / "missing.png"))
    message = window.error_banner.text()
    assert message.endswith("missing.png does not exist") and "\n" not in message


def test_shortcuts_are_wired(qtbot, make_window):
    window = make_window(FakeEngine(), start=False)
    keys = {a.text(): a.shortcut().toString() for a in window.actions()}
    assert keys["Brush"] == "B" and keys["Eraser"] == "E"
    assert keys["Smaller brush"] == "[" and keys["Bigger brush"] == "]"
    assert keys["Undo"] == "Ctrl+Z" and keys["Redo"] == "Ctrl+Shift+Z"
    assert keys["Export"] == "Ctrl+S" and keys["Copy picture"] == "Ctrl+C"
    assert keys["Clear"] == "Del" and keys["Quit"] == "Ctrl+Q"
    window.eraser_action.trigger()
    assert window.canvas.tool == "eraser"
    size = window.canvas.brush_size
    [a for a in window.actions() if a.text() == "Bigger brush"][0].trigger()
    assert window.canvas.brush_size > size and window.size_box.value() == window.canvas.brush_size


def test_preferences_are_saved_soon_after_a_change_not_only_at_close(
    qtbot, make_window, qsettings
):
    window = make_window(FakeEngine())
    window.prefs.timer.setInterval(50)  # the change below must start it by itself
    assert not window.prefs.timer.isActive()
    window.canvas.brush_size = 23
    window.state.live = False
    qtbot.waitUntil(lambda: qsettings.value("brush_size") is not None, timeout=3000)
    assert int(qsettings.value("brush_size")) == 23 and qsettings.value("live") in (False, "false")

"""Finish in the window on a fake engine: Ctrl+Enter, the progress bar, Esc, out of memory,
a model still loading, the export of a finished picture, and the scale in the Export menu."""

from __future__ import annotations

import numpy as np
import pytest
from doubles import FakeEngine
from drawing import first_frame, stroke
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop_app.app import finisher as finisher_module
from desktop_app.app.drawing_file import open_file
from desktop_app.core.metadata import read_parameters


def press_finish(window) -> None:
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def press_escape(window) -> None:
    QTest.keyClick(window, Qt.Key.Key_Escape)


def finished(qtbot, window, engine, count=1):
    qtbot.waitUntil(lambda: len(engine.finished) == count, timeout=5000)
    qtbot.waitUntil(lambda: not window.controller.finishes.running, timeout=5000)
    return window.controller.frames.current


def upscaled(picture: np.ndarray, side: int) -> np.ndarray:
    """What the fake engine makes of ``picture`` (nearest, brightened by 16)."""
    index = np.arange(side) * picture.shape[0] // side
    return np.minimum(picture[index][:, index].astype(np.uint16) + 16, 255).astype(np.uint8)


def test_ctrl_enter_finishes_the_picture_shown_at_twice_its_size(qtbot, make_window):
    engine = FakeEngine()
    window = make_window(engine)
    shown = first_frame(qtbot, window)
    live = window.controller.frames.current
    press_finish(window)
    result = finished(qtbot, window, engine)
    assert result.image.shape == (1024, 1024, 3)
    np.testing.assert_array_equal(window.preview.to_numpy(), upscaled(shown, 1024))
    assert window.finishing.badge.isVisible()
    assert window.finishing.badge.text() == "Finished · 1024×1024"
    assert window.status.size.text() == "1024 px"
    params = result.params
    assert (params.hires_upscale, params.hires_steps, params.denoising_strength) == (2.0, 4, 0.4)
    assert params.seed == live.params.seed and params.size == 512
    entry = window.controller.history.entries[0]
    assert entry.result is result  # in the filmstrip, marked as finished
    assert window.filmstrip.item(0).text().endswith("×2")
    assert not window.finishing.bar.isVisible()
    # The next stroke replaces it with a live frame, and the mark goes.
    stroke(qtbot, window.canvas)
    qtbot.waitUntil(lambda: window.preview.image().width() == 512, timeout=5000)
    assert not window.finishing.badge.isVisible()


def test_the_finish_button_beside_export_finishes_too(qtbot, make_window):
    engine = FakeEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    window.controls.finish.click()
    assert finished(qtbot, window, engine).image.shape == (1024, 1024, 3)


def test_progress_shows_steps_and_time_left(qtbot, make_window, monkeypatch):
    # A model whose own finish runs 5 steps (10 at strength 0.5): a preset may set its own.
    monkeypatch.setattr(finisher_module, "finish_defaults", lambda _model: (10, 0.5))
    engine = FakeEngine()
    engine.finish_delay_s = 1.0
    window = make_window(engine)
    first_frame(qtbot, window)
    seen = []
    window.controller.finishes.progressed.connect(lambda p: seen.append(p.step))
    press_finish(window)
    qtbot.waitUntil(lambda: window.finishing.bar.isVisible(), timeout=2000)
    assert window.finishing.bar.title.text() == "Finishing ×2 → 1024×1024"
    qtbot.waitUntil(lambda: bool(seen) and seen[-1] >= 2, timeout=5000)
    label = window.finishing.bar.label.text()
    assert label.startswith("Refining · step ") and " of 5 · about " in label
    assert label.endswith(" s left")
    finished(qtbot, window, engine)
    assert seen == [1, 2, 3, 4, 5]
    assert window.controller.frames.current.params.hires_steps == 10


def test_escape_cancels_and_the_stroke_drawn_meanwhile_renders_after(qtbot, make_window):
    engine = FakeEngine()
    engine.finish_delay_s = 10.0
    window = make_window(engine)
    shown = first_frame(qtbot, window)
    rendered = len(engine.rendered)
    press_finish(window)
    qtbot.waitUntil(lambda: window.finishing.bar.isVisible(), timeout=2000)
    stroke(qtbot, window.canvas)  # drawn and kept, but no frame while the finish runs
    qtbot.wait(400)
    assert len(engine.rendered) == rendered
    press_escape(window)
    qtbot.waitUntil(lambda: not window.controller.finishes.running, timeout=3000)
    assert not window.finishing.bar.isVisible()
    assert window.statusBar().currentMessage().startswith("Finishing cancelled")
    assert engine.finished == [] and not window.error_banner.isVisible()
    # Live frames resume with the stroke drawn during the finish.
    qtbot.waitUntil(lambda: len(engine.rendered) > rendered, timeout=5000)
    qtbot.waitUntil(lambda: not np.array_equal(window.preview.to_numpy(), shown), timeout=5000)
    assert window.preview.image().width() == 512 and not window.finishing.badge.isVisible()


def test_a_stroke_drawn_during_a_finish_is_rendered_after_it(qtbot, make_window):
    engine = FakeEngine()
    engine.finish_delay_s = 0.8
    window = make_window(engine)
    first_frame(qtbot, window)
    press_finish(window)
    qtbot.waitUntil(lambda: window.finishing.bar.isVisible(), timeout=2000)
    rendered = len(engine.rendered)
    stroke(qtbot, window.canvas)
    result = finished(qtbot, window, engine)
    qtbot.waitUntil(lambda: len(engine.rendered) == rendered + 1, timeout=5000)
    qtbot.waitUntil(lambda: window.controller.frames.current is not result, timeout=5000)
    assert any(e.result is result for e in window.controller.history.entries)


def test_out_of_memory_keeps_the_live_picture_with_a_banner(qtbot, make_window):
    engine = FakeEngine()
    window = make_window(engine)
    shown = first_frame(qtbot, window)
    engine.fail_next = 1  # the next model call, the finish (frames are paused)
    press_finish(window)
    qtbot.waitUntil(window.error_banner.isVisible, timeout=5000)
    text = window.error_banner.text()
    assert text.startswith("Finishing failed: the device ran out of memory")
    assert "\n" not in text and "Traceback" not in text
    assert not window.controller.finishes.running and not window.finishing.bar.isVisible()
    np.testing.assert_array_equal(window.preview.to_numpy(), shown)
    assert window.controller.frames.current.params.hires_upscale is None
    assert not window.finishing.badge.isVisible()


def test_finish_while_the_model_loads_says_so_and_runs_nothing(qtbot, make_window):
    engine = FakeEngine()
    window = make_window(engine, start=False)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    window.start()  # the load's news reaches the window only once events are processed
    press_finish(window)
    assert window.error_banner.isVisible()
    assert window.error_banner.text() == "The model is still loading: Finish when it is ready."
    first_frame(qtbot, window)
    qtbot.wait(100)
    assert engine.finished == [] and not window.controller.finishes.running


def test_finish_with_no_picture_yet_says_so(qtbot, make_window, qsettings):
    qsettings.setValue("live", False)
    engine = FakeEngine()
    window = make_window(engine)
    qtbot.waitUntil(lambda: window.controller.gate.engine_info is not None, timeout=5000)
    press_finish(window)
    assert window.error_banner.text() == (
        "There is no picture to finish yet: draw something first."
    )
    qtbot.wait(100)
    assert engine.finished == []


def test_a_finished_picture_exports_at_its_size_and_opens_again(qtbot, make_window, tmp_path):
    engine = FakeEngine()
    window = make_window(engine)
    window.state.apply({"prompt": "a lighthouse at dusk", "seed": 1234})
    stroke(qtbot, window.canvas)
    qtbot.waitUntil(lambda: window.controller.frames.current is not None
                    and window.controller.frames.current.params.seed == 1234, timeout=5000)
    qtbot.wait(200)  # the stroke's last frame
    strokes = window.canvas.to_numpy()
    press_finish(window)
    result = finished(qtbot, window, engine)
    with qtbot.waitSignal(window.controller.exports.export_finished, timeout=5000) as done:
        QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    path = done.args[0]
    text = read_parameters(path)
    assert text.startswith("a lighthouse at dusk\n")
    assert "Seed: 1234, Size: 512x512" in text
    assert "Hires upscale: 2, Hires steps: 4, Denoising strength: 0.4" in text
    assert result.request_id not in engine.exported  # exported as it is: no decode again
    opened = open_file(path)
    assert opened.settings["prompt"] == "a lighthouse at dusk"
    assert opened.settings["seed"] == 1234 and opened.settings["size"] == 512
    np.testing.assert_array_equal(opened.drawing.strokes, strokes)
    from desktop_app.app.files import read_png

    np.testing.assert_array_equal(read_png(path), result.image)


def test_the_scale_chosen_in_the_export_menu_is_used_and_remembered(
    qtbot, make_window, tmp_path
):
    settings = QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)
    engine = FakeEngine()
    window = make_window(engine, settings=settings)
    first_frame(qtbot, window)
    menu_texts = [a.text() for a in window.export_menu.actions()]
    assert {"Finish ×1.5", "Finish ×2", "Finish ×3"} <= set(menu_texts)
    assert window.finishing.scale_actions[2.0].isChecked()
    window.finishing.scale_actions[3.0].trigger()
    assert finished(qtbot, window, engine).image.shape == (1536, 1536, 3)
    assert window.finishing.badge.text() == "Finished · 1536×1536"
    assert window.finishing.scale_actions[3.0].isChecked()
    window.close()
    qtbot.waitUntil(lambda: not window.controller.worker.isRunning(), timeout=5000)

    again = FakeEngine()
    second = make_window(again, settings=settings, data_dir=tmp_path / "data2")
    assert second.state.finish_scale == 3.0
    assert second.finishing.scale_actions[3.0].isChecked()
    first_frame(qtbot, second)
    press_finish(second)
    assert finished(qtbot, second, again).image.shape == (1536, 1536, 3)


@pytest.mark.parametrize("scale", [1.5, 2.0, 3.0])
def test_every_offered_scale_makes_a_picture_the_filmstrip_keeps(qtbot, make_window, scale):
    engine = FakeEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    window.finishing.finish_at(scale)
    side = int(round(512 * scale / 8)) * 8
    assert finished(qtbot, window, engine).image.shape == (side, side, 3)
    window.controller.filmstrip.wait()
    kept = window.controller.filmstrip.store.load().pictures
    assert kept[0].image.shape == (side, side, 3)
    assert kept[0].params.hires_upscale == scale


def test_escape_cancels_a_finish_first_and_deselects_only_after_it(qtbot, make_window):
    engine = FakeEngine()
    engine.finish_delay_s = 10.0
    window = make_window(engine)
    first_frame(qtbot, window)
    window.selecting.select_all()
    assert window.controller.regions.selection is not None
    press_finish(window)
    qtbot.waitUntil(lambda: window.finishing.bar.isVisible(), timeout=2000)
    press_escape(window)  # one press: the finish stops, the selection stays
    qtbot.waitUntil(lambda: not window.controller.finishes.running, timeout=3000)
    assert engine.finished == []
    assert window.controller.regions.selection is not None
    press_escape(window)  # the next one deselects
    qtbot.waitUntil(lambda: window.controller.regions.selection is None, timeout=2000)

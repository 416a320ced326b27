"""Bad saved state never stops the window from starting: it starts with the defaults for
what was bad, renders, and says once what was dropped. Then a real app process is killed
with SIGKILL after a few strokes, and the next start brings the strokes back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from doubles import FakeEngine
from PIL import Image

from desktop_app.app import files


def test_a_window_starts_over_every_kind_of_bad_saved_state(qtbot, make_window, qsettings,
                                                           tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "autosave-session.json").write_text(json.dumps(
        {"prompt": "kept", "mode": "nope", "strength": -1, "control_scale": 1e9, "seed": "x"}))
    Image.new("1", (20000, 20000), "white").save(data / "autosave-sketch.png")
    for key, value in {"size": "500", "brush_size": "1e9", "layout": 3, "live": "yes"}.items():
        qsettings.setValue(key, value)
    qsettings.sync()

    window = make_window(FakeEngine())
    state = window.state
    assert state.prompt == "kept"
    assert (state.mode, state.strength, state.control_scale, state.seed) == ("scribble", 0.6,
                                                                             1.0, 0)
    assert state.size == 512 and state.brush_size == 6 and state.layout == "side"
    assert window.controls.control_scale.value() == 100
    banner = window.restore_banner.text()
    assert window.restore_banner.isVisible()
    for said in ("mode must be one of", "strength must be in", "control scale must be",
                 "seed must be a whole number", "size must be a multiple of 64",
                 "brush size must be", "layout must be", "live must be true or false",
                 "The autosaved sketch could not be read"):
        assert said in banner
    qtbot.waitUntil(lambda: window.controller.frames.current is not None, timeout=5000)
    assert not window.error_banner.isVisible()  # the frames render: nothing bad was kept


def test_an_autosaved_sketch_of_another_shape_is_placed_not_stretched(qtbot, make_window,
                                                                      tmp_path):
    sketch = np.full((200, 300, 3), 255, np.uint8)
    sketch[:, 0] = sketch[:, -1] = sketch[0] = sketch[-1] = 0  # a one-pixel frame
    files.save_image(tmp_path / "data" / "autosave-sketch.png", sketch)
    window = make_window(FakeEngine(), start=False)
    dark = np.argwhere(window.canvas.to_numpy().min(axis=2) < 128)
    (top, left), (bottom, right) = dark.min(axis=0), dark.max(axis=0)
    assert (bottom - top + 1, right - left + 1) == (200, 300)  # its own size, not 341 x 512


# The app as ``live-canvas --model tiny`` builds it, in a subprocess of its own.
WINDOW = r"""
import sys, time
import numpy as np
from PySide6.QtWidgets import QApplication
from desktop_app.app.settings import set_application_names
from desktop_app.ui.startup import create_window

set_application_names()
app = QApplication([])
window = create_window(model="tiny", device="cpu")
window.show()
"""

APP = WINDOW + r"""
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
window.start()
canvas = window.canvas
for i in range(int(sys.argv[1])):
    rect = canvas.image_rect()
    y = int(rect.y() + rect.height() * (0.1 + 0.08 * i))
    x0, x1 = int(rect.x() + rect.width() * 0.1), int(rect.x() + rect.width() * 0.9)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x0, y))
    for x in range(x0, x1, 20):
        QTest.mouseMove(canvas, QPoint(x, y))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x1, y))
    app.processEvents()
np.save(sys.argv[2], canvas.to_numpy())
print("strokes drawn", flush=True)
while True:
    app.processEvents()
    time.sleep(0.01)
"""


RESTART = WINDOW + r"""
app.processEvents()
same = np.array_equal(window.canvas.to_numpy(), np.load(sys.argv[1]))
print("restored" if same else "different", "notices:", window.restore_banner.isVisible())
"""


@pytest.mark.timeout(300)
def test_strokes_survive_kill_9_a_second_after_the_last_one(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "share"), QT_QPA_PLATFORM="offscreen")
    expected = tmp_path / "expected.npy"
    proc = subprocess.Popen([sys.executable, "-c", APP, "6", str(expected)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "strokes drawn", proc.stderr.read()[-3000:]
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    (autosave,) = (tmp_path / "share").rglob("autosave-sketch.png")
    restored = files.Autosave(autosave.parent).load()
    drawn = np.load(expected)
    assert (drawn < 128).any() and restored.notices == ()
    assert np.array_equal(restored.sketch, drawn)  # every stroke, none lost
    # And the app, started again, shows them on its canvas, with nothing to warn about.
    again = subprocess.run([sys.executable, "-c", RESTART, str(expected)], env=env,
                           capture_output=True, text=True, timeout=240)
    assert again.stdout.strip() == "restored notices: False", again.stderr[-3000:]

"""The picture in a window of its own: it keeps updating live, goes full screen, goes back
into the main window when closed, and opens where it was the next time."""

from __future__ import annotations

import numpy as np
from doubles import FakeEngine
from drawing import first_frame, stroke
from PySide6.QtCore import Qt

from desktop_app.ui.picture_window import PictureWindow


def test_the_detached_picture_keeps_updating_live(qtbot, make_window):
    window = make_window(FakeEngine())
    first_frame(qtbot, window)
    window.detach_action.trigger()
    assert window.state.picture_detached
    picture = window.preview.window()
    assert isinstance(picture, PictureWindow) and picture.isVisible()
    assert window.images.indexOf(window.preview) == -1  # the canvas has the row to itself
    before = window.preview.to_numpy()
    stroke(qtbot, window.canvas)
    qtbot.waitUntil(lambda: not np.array_equal(window.preview.to_numpy(), before), timeout=5000)


def test_closing_the_picture_window_puts_the_picture_back(qtbot, make_window):
    window = make_window(FakeEngine())
    first_frame(qtbot, window)
    window.detach_action.trigger()
    window.preview.window().close()
    assert not window.state.picture_detached and not window.detach_action.isChecked()
    assert window.preview.window() is window and window.images.indexOf(window.preview) == 1


def test_full_screen_and_back(qtbot, make_window):
    window = make_window(FakeEngine())
    window.detach_action.trigger()
    picture = window.preview.window()
    qtbot.keyClick(picture, Qt.Key.Key_F11)
    assert picture.windowState() & Qt.WindowState.WindowFullScreen
    qtbot.keyClick(picture, Qt.Key.Key_Escape)
    assert not picture.windowState() & Qt.WindowState.WindowFullScreen
    assert window.state.picture_detached  # Escape leaves full screen, not the window


def test_the_picture_window_opens_where_it_was(qtbot, make_window, qsettings):
    window = make_window(FakeEngine())
    window.detach_action.trigger()
    window.preview.window().setGeometry(40, 60, 333, 444)
    with qtbot.waitSignal(window.closed, timeout=5000):
        window.close()
    again = make_window(FakeEngine(), settings=qsettings)
    picture = again.preview.window()
    assert again.state.picture_detached and isinstance(picture, PictureWindow)
    assert picture.isVisible() and (picture.width(), picture.height()) == (333, 444)

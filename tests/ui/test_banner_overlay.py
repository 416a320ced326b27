"""Banners float over the images: one that appears (an error, the CPU notice after the model
loads, a server's trouble) never moves or rescales the page under the pen."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect


def page_on_screen(window) -> QRect:
    canvas = window.canvas
    return QRect(canvas.mapToGlobal(QPoint(0, 0)), canvas.size())


def test_a_banner_that_appears_leaves_the_page_where_it_was(qtbot, make_window):
    window = make_window()
    window.resize(1180, 860)
    qtbot.waitExposed(window)
    qtbot.wait(50)
    before = page_on_screen(window)
    window.show_error("The render failed: something went wrong on purpose")
    window.cpu_banner.show_message("This computer has no GPU: frames take a few seconds")
    qtbot.waitUntil(lambda: window.banners.isVisible())
    qtbot.wait(50)
    assert page_on_screen(window) == before
    # The banners are seen: inside the window, on top of the images, and clickable.
    stack = window.banners
    assert stack.height() >= window.error_banner.sizeHint().height()
    assert window.rect().contains(QRect(stack.mapTo(window, QPoint(0, 0)), stack.size()))
    centre = window.error_banner.rect().center()
    hit = window.childAt(window.error_banner.mapTo(window, centre))
    assert hit is window.error_banner or window.error_banner.isAncestorOf(hit)
    window.error_banner.hide()
    window.cpu_banner.hide()
    qtbot.waitUntil(lambda: not window.banners.isVisible())
    assert page_on_screen(window) == before


def test_banners_stay_on_top_when_the_picture_comes_back(qtbot, make_window):
    window = make_window()
    qtbot.waitExposed(window)
    window.show_error("still here")
    window.state.picture_detached = True
    window.state.picture_detached = False
    qtbot.wait(20)
    centre = window.error_banner.rect().center()
    hit = window.childAt(window.error_banner.mapTo(window, centre))
    assert hit is window.error_banner or window.error_banner.isAncestorOf(hit)

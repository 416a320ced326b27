"""The dark theme and the SVG icons, from ``resources/`` (``core.resources`` finds it in a
checkout and in the frozen bundle)."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from desktop_app.app.settings import APPLICATION
from desktop_app.core.resources import APP_ID, resource


@cache
def icon(name: str) -> QIcon:
    path = resource(f"icons/{name}.svg")
    return QIcon(str(path)) if path.exists() else QIcon()


def apply_theme(app: QApplication) -> None:
    qss = resource("theme.qss")
    if qss.exists():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))
    app.setWindowIcon(icon("app"))


def set_desktop_identity() -> None:
    """The names the desktop shows: the title in task switchers, and the desktop file name,
    which Wayland sends as the window's app id and which matches the installed launcher
    (packaging/linux/), so the dock shows its icon and groups the window under it."""
    QGuiApplication.setApplicationDisplayName(APPLICATION)
    QGuiApplication.setDesktopFileName(APP_ID)

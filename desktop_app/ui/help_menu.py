"""The Help menu: the version, and the folder of the log to attach to a bug report."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu, QWidget

from desktop_app import __version__
from desktop_app.app.settings import app_data_dir
from desktop_app.core.log import current_log


class HelpMenu(QMenu):
    def __init__(self, say: Callable[[str, bool], None], parent: QWidget | None = None) -> None:
        super().__init__("Help", parent)
        self.say = say
        self.version_action = self.addAction(f"Live Canvas {__version__}")
        self.version_action.setEnabled(False)
        self.log_action = self.addAction("Open log folder")
        self.log_action.triggered.connect(self.open_log_folder)
        self.aboutToShow.connect(self._show_where)

    def log_folder(self) -> Path:
        log = current_log()
        return log.parent if log is not None else app_data_dir()

    def _show_where(self) -> None:
        self.log_action.setToolTip(f"{self.log_folder()}: attach live-canvas.log to a bug report")

    def open_log_folder(self) -> bool:
        """Show the folder in the file manager; when the desktop cannot, say where it is."""
        folder = self.log_folder()
        with contextlib.suppress(OSError):  # opening it then says what is wrong
            folder.mkdir(parents=True, exist_ok=True)
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        if not opened:
            self.say(f"The log folder could not be opened here; it is {folder}", True)
        return opened

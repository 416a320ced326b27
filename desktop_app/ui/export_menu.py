"""The Export options: where exports go, and whether the sketch is saved beside each one."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from desktop_app.app.exporter import Exporter
from desktop_app.ui.bindings import bind_checked


class ExportMenu(QMenu):
    """Shows and edits the state's ``save_sketch`` and ``export_dir``: it holds no state."""

    def __init__(self, exporter: Exporter, parent: QWidget | None = None) -> None:
        super().__init__("Export options", parent)
        self.exporter = exporter
        self.state = exporter.state
        self.sketch_action = self.addAction("Also save the sketch (…-sketch.png)")
        bind_checked(self.sketch_action, self.state, "save_sketch")
        self.folder_action = self.addAction("")
        self.folder_action.triggered.connect(self.choose_folder)
        self.state.export_dir_changed.connect(self._show_folder)
        self._show_folder()

    def folder(self) -> Path:
        return self.exporter.folder()

    def choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(
            self.parentWidget(), "Export folder", str(self.folder())
        )
        if chosen:
            self.set_folder(Path(chosen))

    def set_folder(self, folder: Path) -> None:
        self.state.export_dir = str(folder)

    def _show_folder(self, _folder: str = "") -> None:
        self.folder_action.setText(f"Export folder: {self.folder()}…")

"""The Export options: where exports go, and whether the sketch is saved beside each one."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from desktop_app.app.controller import Controller


class ExportMenu(QMenu):
    """Edits the controller's export settings directly: it holds no state of its own."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__("Export options", parent)
        self.controller = controller
        self.sketch_action = self.addAction("Also save the sketch (…-sketch.png)")
        self.sketch_action.setCheckable(True)
        self.sketch_action.setChecked(controller.save_sketch_with_export)
        self.sketch_action.toggled.connect(self._set_save_sketch)
        self.folder_action = self.addAction("")
        self.folder_action.triggered.connect(self.choose_folder)
        self._show_folder()

    def folder(self) -> Path:
        return self.controller.export_folder()

    def _set_save_sketch(self, on: bool) -> None:
        self.controller.save_sketch_with_export = on

    def choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(
            self.parentWidget(), "Export folder", str(self.folder())
        )
        if chosen:
            self.set_folder(Path(chosen))

    def set_folder(self, folder: Path) -> None:
        self.controller.export_dir = folder
        self._show_folder()

    def _show_folder(self) -> None:
        self.folder_action.setText(f"Export folder: {self.folder()}…")

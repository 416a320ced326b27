"""A small form for a user preset: a name, a base model, an optional ControlNet and decoder."""

from __future__ import annotations

from collections.abc import Collection

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.app.user_presets import UserPreset, make_user_preset
from desktop_app.core.errors import ModelLoadError

WEIGHTS_FILTER = "Safetensors (*.safetensors)"


class UserPresetDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, taken: Collection[str] = ()) -> None:
        super().__init__(parent)
        self.setWindowTitle("New model preset")
        self.taken = tuple(taken)
        self._preset: UserPreset | None = None

        self.name = QLineEdit()
        self.name.setPlaceholderText("my sketch model")
        self.base = QLineEdit()
        self.base.setPlaceholderText("sd-turbo, owner/model, a folder or a .safetensors file")
        self.controlnet = QLineEdit()
        self.controlnet.setPlaceholderText("optional: hub id or folder (default: the family's)")
        self.decoder = QLineEdit()
        self.decoder.setPlaceholderText("optional: hub id, folder or file (default: TAESD)")

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Base model", self._row(self.base, folder=True, file=True))
        form.addRow("ControlNet", self._row(self.controlnet, folder=True))
        form.addRow("Preview decoder", self._row(self.decoder, folder=True, file=True))
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _row(self, edit: QLineEdit, folder: bool = False, file: bool = False) -> QWidget:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(edit, 1)
        if folder:
            button = QPushButton("Folder…")
            button.clicked.connect(lambda: self._browse_folder(edit))
            box.addWidget(button)
        if file:
            button = QPushButton("File…")
            button.clicked.connect(lambda: self._browse_file(edit))
            box.addWidget(button)
        return row

    def _browse_folder(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a diffusers model folder")
        if folder:
            edit.setText(folder)

    def _browse_file(self, edit: QLineEdit) -> None:
        path = QFileDialog.getOpenFileName(self, "Choose a weights file", "", WEIGHTS_FILTER)[0]
        if path:
            edit.setText(path)

    def preset(self) -> UserPreset | None:
        """The preset saved with Save (None before that)."""
        return self._preset

    def accept(self) -> None:
        try:
            self._preset = make_user_preset(
                self.name.text(),
                self.base.text(),
                self.controlnet.text(),
                self.decoder.text(),
                taken=self.taken,
            )
        except ModelLoadError as err:
            self.error.setText(f"Cannot save: {err}")
            self.error.show()
            return
        super().accept()

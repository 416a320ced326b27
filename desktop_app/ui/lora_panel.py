"""The LoRA styles row: each style in use with its weight and a remove button, and "Add" with
the styles folder's files, any file, and the folder itself.

The row holds no state of its own: it shows ``state.loras`` and writes every change back to
it (the frame that follows fuses the new set in the render worker, off the UI thread).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QWidget,
)

from desktop_app.app.state import LiveState
from desktop_app.core.settings_table import LORA_WEIGHT_RANGE, MAX_LORAS
from desktop_app.core.types import lora_name
from desktop_app.models.styles import list_styles, styles_dir


class LoraPanel(QWidget):
    def __init__(self, state: LiveState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.add_button = QToolButton()
        self.add_button.setText("Add LoRA style")
        self.add_button.setToolTip(
            "A LoRA file (kohya/A1111 or diffusers) fused into the model: no cost per frame"
        )
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.add_button)
        self.menu.aboutToShow.connect(self._fill_menu)
        self.add_button.setMenu(self.menu)
        self.entries: list[tuple[QLabel, QDoubleSpinBox, QToolButton]] = []
        self.row.addWidget(self.add_button)
        self.row.addStretch(1)
        self._shown: tuple | None = None  # the styles the entries show
        self._show(state.loras)
        state.loras_changed.connect(self._show)

    # --- showing the state --------------------------------------------------------------
    def _show(self, loras: tuple) -> None:
        if loras == self._shown:
            return  # a weight typed here: the widgets show it already (and keep the focus)
        self._shown = loras
        for widgets in self.entries:
            for widget in widgets:
                self.row.removeWidget(widget)
                widget.deleteLater()
        self.entries = [self._entry(i, path, weight) for i, (path, weight) in enumerate(loras)]
        self.add_button.setEnabled(len(loras) < MAX_LORAS)

    def _entry(self, index: int, path: str, weight: float):
        label = QLabel(lora_name(path))
        label.setToolTip(path)
        spin = QDoubleSpinBox()
        spin.setRange(*LORA_WEIGHT_RANGE)
        spin.setSingleStep(0.1)
        spin.setDecimals(2)
        spin.setValue(weight)
        spin.setAccessibleName(f"weight of {lora_name(path)}")
        spin.setKeyboardTracking(False)  # one re-fuse per typed number, not per digit
        spin.valueChanged.connect(lambda value, i=index: self._set_weight(i, value))
        remove = QToolButton()
        remove.setText("×")
        remove.setToolTip(f"Remove {lora_name(path)}")
        remove.clicked.connect(lambda _=False, i=index: self._remove(i))
        for widget in (label, spin, remove):
            self.row.insertWidget(self.row.indexOf(self.add_button), widget)
        return label, spin, remove

    # --- changes --------------------------------------------------------------------------
    def add(self, path: str, weight: float = 1.0) -> None:
        loras = tuple(self.state.loras)
        if any(existing == path for existing, _ in loras) or len(loras) >= MAX_LORAS:
            return
        self.state.loras = (*loras, (path, weight))

    def _set_weight(self, index: int, weight: float) -> None:
        loras = list(self.state.loras)
        if index < len(loras):
            loras[index] = (loras[index][0], round(float(weight), 2))
            self._shown = tuple(loras)
            self.state.loras = self._shown

    def _remove(self, index: int) -> None:
        self.state.loras = tuple(x for i, x in enumerate(self.state.loras) if i != index)

    def _fill_menu(self) -> None:
        self.menu.clear()
        folder = styles_dir()
        styles = list_styles(folder)
        for path in styles:
            self.menu.addAction(lora_name(path.name), lambda p=str(path): self.add(p))
        if not styles:
            empty = self.menu.addAction(f"No styles in {folder} yet")
            empty.setEnabled(False)
        self.menu.addSeparator()
        self.menu.addAction("Other file…", self._choose_file)
        self.menu.addAction("Open styles folder", self.open_folder)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Add a LoRA style", str(styles_dir()), "LoRA (*.safetensors)"
        )
        if path:
            self.add(path)

    def open_folder(self) -> Path:
        folder = styles_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # the file manager says what is wrong with it
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        return folder

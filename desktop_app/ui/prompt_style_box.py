"""The prompt style chooser beside the prompt: no style, the app's, the user's, and "Edit
styles…". It shows ``state.prompt_style`` and sets it; the styles come from the store."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from desktop_app.app.prompt_styles import PromptStyleStore
from desktop_app.app.state import LiveState

EDIT_STYLES = "__edit_styles__"


class PromptStyleBox(QComboBox):
    edit_requested = Signal()

    def __init__(self, state: LiveState, store: PromptStyleStore, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.store = store
        self.setToolTip("A style adds its words around your prompt (and may add LoRA styles)")
        self.setAccessibleName("Prompt style")
        self.refresh()
        self.activated.connect(self._on_activated)
        state.prompt_style_changed.connect(self._show)

    def refresh(self) -> None:
        """List the styles again (after an edit), keeping the chosen one."""
        self.blockSignals(True)
        self.clear()
        self.addItem("No style", "")
        for style in self.store.all():
            self.addItem(style.name, style.name)
            self.setItemData(self.count() - 1, style.describe(), Qt.ItemDataRole.ToolTipRole)
        self.insertSeparator(self.count())
        self.addItem("Edit styles…", EDIT_STYLES)
        self.blockSignals(False)
        self._show(self.state.prompt_style)

    def _show(self, name: str) -> None:
        index = self.findData(name)
        if index < 0:  # a style deleted, or from a newer version's file: shown as none
            index = 0
        self.setCurrentIndex(index)

    def _on_activated(self, index: int) -> None:
        value = self.itemData(index)
        if value == EDIT_STYLES:
            self._show(self.state.prompt_style)
            self.edit_requested.emit()
            return
        self.state.prompt_style = value

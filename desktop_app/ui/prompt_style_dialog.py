"""Editing the user's prompt styles: a list on the left, the chosen style's name, text before
and after the prompt and LoRA styles (``FILE:WEIGHT`` a line) on the right. The app's own
styles are listed too, to copy from: saving one under a new name makes it the user's."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.app.prompt_styles import PromptStyle, PromptStyleStore, make_prompt_style
from desktop_app.core.errors import LiveCanvasError


class PromptStyleDialog(QDialog):
    def __init__(
        self, store: PromptStyleStore, loras: tuple = (), parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Prompt styles")
        self.store = store
        self._editing: str | None = None  # the user's style being changed, if any
        self.styles = QListWidget()
        self.name = QLineEdit()
        self.before = QLineEdit()
        self.before.setPlaceholderText("words before the prompt, e.g. watercolour painting of")
        self.after = QLineEdit()
        self.after.setPlaceholderText("words after it, e.g. soft washes, paper texture")
        self.loras = QPlainTextEdit()
        self.loras.setPlaceholderText("optional LoRA styles, one a line: FILE or NAME[:WEIGHT]")
        self.loras.setPlainText("\n".join(f"{path}:{weight:g}" for path, weight in loras))
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c0392b")
        self._build()
        self._fill(select=None)
        self.name.setFocus()  # a new style is the usual start; the list is for editing

    def _build(self) -> None:
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Before the prompt", self.before)
        form.addRow("After the prompt", self.after)
        form.addRow("LoRA styles", self.loras)
        self.new_button = QPushButton("New")
        self.save_button = QPushButton("Save")
        self.delete_button = QPushButton("Delete")
        self.new_button.clicked.connect(self._new)
        self.save_button.clicked.connect(self.save)
        self.delete_button.clicked.connect(self._delete)
        row = QHBoxLayout()
        for button in (self.new_button, self.save_button, self.delete_button):
            row.addWidget(button)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(row)
        right.addWidget(self.error)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.accept)
        right.addWidget(close)
        layout = QHBoxLayout(self)
        layout.addWidget(self.styles, 1)
        layout.addLayout(right, 2)
        self.styles.currentRowChanged.connect(self._show_row)

    def _fill(self, select: str | None) -> None:
        self.styles.blockSignals(True)
        self.styles.clear()
        for style in self.store.all():
            self.styles.addItem(style.name + (" (built in)" if style.builtin else ""))
        self.styles.blockSignals(False)
        names = [s.name for s in self.store.all()]
        if select in names:
            self.styles.setCurrentRow(names.index(select))
        self.delete_button.setEnabled(self._editing is not None)

    def _show_row(self, row: int) -> None:
        style = self.store.all()[row]
        self._editing = None if style.builtin else style.name
        # A built-in style is copied: saving it needs a new name.
        self.name.setText(style.name if not style.builtin else f"{style.name} (mine)")
        self.before.setText(style.before)
        self.after.setText(style.after)
        self.loras.setPlainText("\n".join(f"{p}:{w:g}" for p, w in style.loras))
        self.delete_button.setEnabled(self._editing is not None)
        self.error.clear()

    def _new(self) -> None:
        self._editing = None
        self.styles.clearSelection()
        for edit in (self.name, self.before, self.after):
            edit.clear()
        self.delete_button.setEnabled(False)
        self.error.clear()

    def save(self) -> PromptStyle | None:
        taken = tuple(s.name for s in self.store.own() if s.name != self._editing)
        try:
            style = make_prompt_style(
                self.name.text(),
                self.before.text(),
                self.after.text(),
                self.loras.toPlainText(),
                taken,
            )
        except LiveCanvasError as err:
            self.error.setText(str(err))
            return None
        self.store.save(style, replacing=self._editing)
        self._editing = style.name
        self.error.clear()
        self._fill(select=style.name)
        return style

    def _delete(self) -> None:
        if self._editing is not None:
            self.store.remove(self._editing)
            self._new()
            self._fill(select=None)

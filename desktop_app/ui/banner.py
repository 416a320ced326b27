"""A non-modal message strip shown above the images (errors, model state, noise warning)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget


class Banner(QFrame):
    def __init__(
        self, kind: str = "info", closable: bool = True, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setProperty("kind", kind)  # styled per kind in theme.qss
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self._buttons = QHBoxLayout()
        layout.addLayout(self._buttons)
        self.buttons: list[QPushButton] = []
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        close.setVisible(closable)
        layout.addWidget(close)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    def show_message(self, text: str, *actions: tuple[str, Callable[[], None]]) -> None:
        """Show ``text`` with one button per (label, callback) in ``actions``."""
        self.label.setText(text)
        for button in self.buttons:
            button.deleteLater()
        self.buttons = []
        for label, callback in actions:
            button = QPushButton(label)
            button.clicked.connect(callback)
            self._buttons.addWidget(button)
            self.buttons.append(button)
        self.show()

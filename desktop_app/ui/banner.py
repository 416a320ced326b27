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
        self.action_button = QPushButton()
        self.action_button.hide()
        layout.addWidget(self.action_button)
        self._action: Callable[[], None] | None = None
        self.action_button.clicked.connect(self._run_action)
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

    def show_message(
        self, text: str, action_text: str | None = None, action: Callable[[], None] | None = None
    ) -> None:
        self.label.setText(text)
        self._action = action
        self.action_button.setVisible(bool(action_text and action))
        if action_text:
            self.action_button.setText(action_text)
        self.show()

    def _run_action(self) -> None:
        if self._action is not None:
            self._action()

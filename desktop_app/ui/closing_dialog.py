"""What the app is still doing after its window closed (finishing an export), with Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog, QWidget


class ClosingDialog(QProgressDialog):
    """A busy bar (an export's full-quality decode reports no progress of its own); Cancel
    closes the app without waiting for it."""

    def __init__(self, message: str, parent: QWidget | None = None) -> None:
        super().__init__(message, "Quit without waiting", 0, 0, parent)
        self.setWindowTitle("Live Canvas")
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setMinimumDuration(0)
        self.setAutoClose(False)
        self.setAutoReset(False)

    def reject(self) -> None:  # Qt override: what Escape calls
        """Escape: the dialog's one choice is "Quit without waiting"; hiding it would leave
        the app running, unseen, until the export ends."""
        self.canceled.emit()
        super().reject()

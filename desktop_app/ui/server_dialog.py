"""A small form to draw against a render server: its address, and its token and certificate
files when it has them (``live-canvas serve`` prints the token's file on its first start)."""

from __future__ import annotations

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

from desktop_app.app.state import LiveState
from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.tokens import read_token
from desktop_app.remote.address import ServerAddress, is_server_model, server_model


class ServerDialog(QDialog):
    def __init__(self, state: LiveState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Render on a server")
        self.setMinimumWidth(560)
        self.state = state
        current = state.preset if is_server_model(state.preset) else ""
        self.address = QLineEdit(ServerAddress.parse(current).url if current else "")
        self.address.setPlaceholderText("http://gpu-box:8470")
        self.token_file = QLineEdit(state.server_token_file)
        self.token_file.setPlaceholderText("the server's token file (for a server elsewhere)")
        self.ca_file = QLineEdit(state.server_ca_file)
        self.ca_file.setPlaceholderText("optional: the server's certificate, for https://")
        form = QFormLayout()
        form.addRow("Server", self.address)
        form.addRow("Token file", self._with_browse(self.token_file, "The server's token file"))
        form.addRow("Certificate", self._with_browse(self.ca_file, "The server's certificate"))
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Connect")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Frames render on the server; your drawing stays here."))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _with_browse(self, edit: QLineEdit, caption: str) -> QWidget:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(edit, 1)
        button = QPushButton("File…")
        button.clicked.connect(lambda: self._browse(edit, caption))
        box.addWidget(button)
        return row

    def _browse(self, edit: QLineEdit, caption: str) -> None:
        path = QFileDialog.getOpenFileName(self, caption)[0]
        if path:
            edit.setText(path)

    def accept(self) -> None:
        """Check what can be checked here (the address, the token file), then connect."""
        token_file, ca_file = self.token_file.text().strip(), self.ca_file.text().strip()
        try:
            model = server_model(self.address.text())
            if token_file:
                read_token(token_file)
        except InvalidRequestError as err:
            self.error.setText(f"Cannot connect: {err}")
            self.error.show()
            return
        self.state.server_token_file = token_file
        self.state.server_ca_file = ca_file
        self.state.preset = model
        super().accept()

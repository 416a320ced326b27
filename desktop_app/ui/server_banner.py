"""The banner for a render server's trouble: what went wrong and that it is retrying, with
"Retry now" and "Use a local model"; a gentler notice when a picture is slow to come."""

from __future__ import annotations

from PySide6.QtWidgets import QStatusBar

from desktop_app.app.server_link import ServerLink
from desktop_app.ui.banner import Banner


class ServerBanner(Banner):
    def __init__(self, link: ServerLink, status_bar: QStatusBar) -> None:
        super().__init__("warning")
        self.link = link
        self.status_bar = status_bar
        link.changed.connect(self._on_changed)

    def _on_changed(self, kind: str, message: str) -> None:
        if kind == "ok":
            self.hide()
            if message:
                self.status_bar.showMessage(message, 8000)
            return
        actions = [("Use a local model", self.link.use_local)]
        if kind == "lost":
            actions.insert(0, ("Retry now", self.link.retry_now))
        self.show_message(message, *actions)



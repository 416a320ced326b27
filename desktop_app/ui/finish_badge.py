"""The mark on a finished picture: "Finished · 1024×1024", over the picture's bottom left
corner while that picture is the one shown (a child of the picture's view, it goes with it
into the picture's own window)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QLabel

from desktop_app.core.types import FrameResult
from desktop_app.ui.image_view import ImageView

MARGIN = 8


def finished_text(result: FrameResult) -> str | None:
    """ "Finished · 1024×1024" for a finished picture, None for a live one."""
    if result.params.hires_upscale is None:
        return None
    height, width = result.image.shape[:2]
    return f"Finished · {width}×{height}"


class FinishBadge(QLabel):
    def __init__(self, host: ImageView) -> None:
        super().__init__(host)
        self.setObjectName("finishBadge")
        self.host = host
        host.installEventFilter(self)
        self.hide()

    def show_for(self, result: FrameResult) -> None:
        text = finished_text(result)
        if text is None:
            self.hide()
            return
        params = result.params
        self.setText(text)
        self.setToolTip(
            f"Upscaled ×{params.hires_upscale:g} from {params.size}×{params.size}, refined in "
            f"{params.hires_steps} steps at strength {params.denoising_strength:g}; "
            "Ctrl+S exports it at this size"
        )
        self.adjustSize()
        self._place()
        self.show()
        self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.host and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        # The bottom left: the banners float over the top right, Finish's bar was at the
        # bottom centre.
        corner = self.host.image_rect().bottomLeft().toPoint()
        self.move(corner.x() + MARGIN, corner.y() - self.height() - MARGIN)

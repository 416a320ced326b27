"""Undo commands for the sketch canvas: each stores the before/after pixels of one region."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage, QUndoCommand

if TYPE_CHECKING:
    from desktop_app.ui.canvas import SketchCanvas


class PatchCommand(QUndoCommand):
    """Swap one rectangle of the canvas between ``before`` and ``after``.

    ``applied`` says the change is already on the canvas (a finished stroke), so the first
    ``redo()``, which QUndoStack.push calls, does nothing.
    """

    def __init__(
        self,
        canvas: SketchCanvas,
        rect: QRect,
        before: QImage,
        after: QImage,
        text: str,
        applied: bool = False,
    ) -> None:
        super().__init__(text)
        self._canvas = canvas
        self._rect = QRect(rect)
        self._before = before
        self._after = after
        self._skip_redo = applied

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self._canvas.blit(self._rect.topLeft(), self._after)

    def undo(self) -> None:
        self._canvas.blit(self._rect.topLeft(), self._before)

"""Undo with the picture locked: each step made while it is locked keeps the picture that was
shown before it (the picture and the drawing that made it), and undoing that step shows that
very picture again, pixel for pixel, instead of repainting.

The picture before a stroke is the one shown when its first segment was drawn (frames of the
stroke itself replace it while the hand moves); before any other step (a clear, an import)
it is the one shown when the step is pushed. It is kept on the undo command itself
(``picture_before``), so it goes when the step leaves the history.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject

from desktop_app.app.controller import Controller
from desktop_app.ui.canvas import SketchCanvas


class PictureUndo(QObject):
    def __init__(self, controller: Controller, canvas: SketchCanvas) -> None:
        super().__init__(canvas)
        self.frames, self.state, self.canvas = controller.frames, controller.state, canvas
        self._stroke_before: tuple[Any, Any] | None = None
        self._index = canvas.undo_stack.index()
        canvas.content_changed.connect(self._on_content_changed)
        canvas.undo_stack.indexChanged.connect(self._on_index_changed)

    def _picture_now(self) -> tuple[Any, Any] | None:
        result = self.frames.current
        return None if result is None else (result, self.frames.drawing_of(result))

    def _on_content_changed(self, in_stroke: bool) -> None:
        if not in_stroke:
            self._stroke_before = None
        elif self._stroke_before is None:
            self._stroke_before = self._picture_now() or (None, None)

    def _on_index_changed(self, index: int) -> None:
        stack = self.canvas.undo_stack
        if index > self._index and index > 0:  # a step pushed (or redone: already marked)
            command = stack.command(index - 1)
            if getattr(command, "picture_before", None) is None:
                before = self._stroke_before or self._picture_now()
                locked = self.state.picture_locked and before is not None and before[0]
                _mark(command, before if locked else False)
        self._stroke_before = None
        self._index = index

    def before_undo(self) -> None:
        """Call just before ``undo_stack.undo()``: with the picture locked, the step's picture
        before it comes back (and the sketch it was made of, so nothing is repainted)."""
        stack = self.canvas.undo_stack
        if not self.state.picture_locked or stack.index() == 0:
            return
        before = getattr(stack.command(stack.index() - 1), "picture_before", None)
        if before:
            self.frames.bring_back(*before)


def _mark(command: Any, value: Any) -> None:
    try:
        command.picture_before = value
    except AttributeError:  # a step Qt made (an opened file's macro): nothing is kept
        pass

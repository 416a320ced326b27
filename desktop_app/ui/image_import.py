"""Images brought into the drawing: a reference under the strokes (the menu, Ctrl+I, a file
dropped on the canvas), or a photo turned into line art on the strokes.

A file that is not an image, a damaged one or one too large to be a sketch is said in one
line and changes nothing; the size is read from the file's header before any pixel is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop_app.app.controller import Controller
from desktop_app.app.files import read_png
from desktop_app.core.errors import SketchError
from desktop_app.ui.canvas import SketchCanvas

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff)"


class ImageImport(QObject):
    def __init__(
        self,
        controller: Controller,
        canvas: SketchCanvas,
        say: Callable[[str, bool], None],
        parent: QWidget,
    ) -> None:
        """``say(message, is_error)``: the window's banner or status bar."""
        super().__init__(parent)
        self.controller, self.canvas, self.say, self.window = controller, canvas, say, parent

    def pick(self, path: str | None, caption: str) -> np.ndarray | None:
        """The image at ``path`` (or one the user picks) as RGB, or None (said)."""
        path = path or QFileDialog.getOpenFileName(self.window, caption, "", IMAGE_FILTER)[0]
        if not path:
            return None
        try:
            return read_png(Path(path))
        except SketchError as err:
            self.say(str(err), True)
            return None

    def reference(self, path: str | None = None) -> None:
        """Put an image under the strokes as the reference (undoable), fitted to the page."""
        array = self.pick(path, "Reference image")
        if array is not None:
            self.canvas.set_reference(array)

    def lineart(self, path: str | None = None) -> None:
        """Convert a photo to line art in the worker, then put it on the strokes."""
        array = self.pick(path, "Photo to line art")
        if array is not None:
            self.say("Converting the photo to line art…", False)
            self.controller.import_lineart(array)

"""Files brought into the drawing: an export opened again to keep working (Ctrl+O, a file
dropped on the canvas, ``live-canvas FILE``), another picture as a reference under the
strokes (Ctrl+I, or dropped: with its prompt when its ``parameters`` carry one), or a photo
turned into line art on the strokes.

A file that is not an image, a damaged or hostile one, or one too large to be a sketch is
said in one line and changes nothing; sizes are read from headers before any pixel is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop_app.app.controller import Controller
from desktop_app.app.drawing_file import OpenedFile, open_file
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

    def open(self, path: str | None = None) -> None:
        """An export of this app: its drawing and settings back, to keep working; any other
        picture: a reference under the strokes (with its prompt, when it carries one)."""
        path = path or QFileDialog.getOpenFileName(self.window, "Open", "", IMAGE_FILTER)[0]
        if not path:
            return
        try:
            opened = open_file(path)
        except SketchError as err:
            self.say(str(err), True)
            return
        self.apply(opened, Path(path).name)

    def apply(self, opened: OpenedFile, name: str) -> None:
        state = self.controller.state
        if opened.drawing is None:
            self.canvas.set_reference(opened.image, f"Open {name}")
            if opened.prompt:
                state.prompt = opened.prompt
            said = " with its prompt" if opened.prompt else ""
            self.say(f"{name} is under your strokes as a reference{said}", False)
            return
        state.apply(opened.settings)
        info = self.controller.gate.engine_info
        running = info.model if info is not None else state.preset
        if opened.model and opened.model != running:
            state.preset = opened.model  # the model that made it (loaded, or offered)
        self.canvas.open_drawing(opened.drawing, f"Open {name}")
        if opened.notes:
            self.say(f"Opened {name}; " + "; ".join(opened.notes), True)
        else:
            self.say(f"Opened {name}: keep drawing", False)

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
from desktop_app.app.selection import Selection
from desktop_app.core.errors import SketchError
from desktop_app.ui.canvas import SketchCanvas
from desktop_app.ui.canvas_commands import SelectionCommand, SettingsCommand

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
        """What ``opened`` brings, as one undo step for all of it (the strokes, the reference,
        the prompt and settings); the model that made it is chosen outside that step (undo
        does not load another model) and the banner says so."""
        state = self.controller.state
        text = f"Open {name}"
        settings = {k: v for k, v in (opened.settings or {}).items() if k in state.FIELDS}
        if opened.drawing is None:
            settings = {"prompt": opened.prompt} if opened.prompt else {}
        else:
            self._start_from_picture(opened)
        with self.canvas.one_step(text):
            self.canvas.undo_stack.push(
                SettingsCommand(state.apply, state.snapshot(tuple(settings)), settings, text)
            )
            if opened.drawing is None:
                self.canvas.set_reference(opened.image, text)
            else:
                self.canvas.open_drawing(opened.drawing, text)
                self._select(opened.drawing.selection, text)
        if opened.drawing is None:
            said = " with its prompt" if opened.prompt else ""
            self.say(f"{name} is under your strokes as a reference{said}", False)
            return
        notes = list(opened.notes)
        if opened.picture is not None:
            notes.append("its picture is back, locked (L unlocks it)")
        info = self.controller.gate.engine_info
        running = info.model if info is not None else state.preset
        if opened.model and opened.model != running:
            state.preset = opened.model  # the model that made it (loaded, or offered)
            notes.append(f"it was made with {opened.model}, which is chosen now")
        if notes:
            self.say(f"Opened {name}; " + "; ".join(notes), bool(opened.notes))
        else:
            self.say(f"Opened {name}: keep drawing", False)

    def _start_from_picture(self, opened: OpenedFile) -> None:
        """A composed export: its picture is the one shown and kept by the next frames, locked
        (its sketch alone would not make it again)."""
        if opened.picture is None or opened.picture_params is None or opened.drawing is None:
            return
        self.controller.state.picture_locked = True
        self.controller.frames.adopt(opened.picture, opened.picture_params, opened.drawing)

    def _select(self, selection: Selection | None, text: str) -> None:
        """The file's selection, on this page, in the opening's undo step."""
        regions, image = self.controller.regions, self.canvas.image()
        after = selection.on_page(image.width(), image.height()) if selection else None
        if after != regions.selection:
            self.canvas.undo_stack.push(
                SelectionCommand(regions.set_selection, regions.selection, after, text)
            )

"""The window's selection and picture lock: the tools (rectangle ``M``, lasso ``Q``), Select
all (Ctrl+A), Deselect (Ctrl+D, Ctrl+Shift+A, Esc), Lock the picture (``L``), the marching
ants over the canvas and the picture, and Undo that brings a locked picture back.

Selecting and deselecting are undo steps on the canvas's history, like strokes; the
selection itself lives in the app (``RegionFrames``), where frames and the autosave read it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from desktop_app.app.controller import Controller
from desktop_app.app.selection import Selection
from desktop_app.ui.bindings import bind_checked
from desktop_app.ui.canvas import SketchCanvas
from desktop_app.ui.canvas_commands import SelectionCommand
from desktop_app.ui.image_view import ImageView
from desktop_app.ui.picture_undo import PictureUndo
from desktop_app.ui.selection_overlay import SelectionOverlay
from desktop_app.ui.selection_tool import TOOLS, SelectionTool

MakeAction = Callable[..., QAction]  # the window's: (text, slot, shortcut, icon, checkable)
DESELECT_KEYS = ("Ctrl+D", "Ctrl+Shift+A", "Esc")


class SelectionTools(QObject):
    def __init__(
        self,
        controller: Controller,
        canvas: SketchCanvas,
        preview: ImageView,
        make_action: MakeAction,
        set_tool: Callable[[str], None],
    ) -> None:
        super().__init__(canvas)
        self.regions, self.canvas = controller.regions, canvas
        self.canvas_ants = SelectionOverlay(canvas)
        self.picture_ants = SelectionOverlay(preview)
        self.tool = SelectionTool(canvas, self.canvas_ants, self.select)
        self.picture_undo = PictureUndo(controller, canvas)
        self.rectangle_action = make_action(
            "Rectangle selection", lambda: set_tool("rectangle"), "M", "select", True
        )
        self.lasso_action = make_action("Lasso selection", lambda: set_tool("lasso"), "Q",
                                        "lasso", True)
        self.select_all_action = make_action("Select all", self.select_all, "Ctrl+A")
        self.deselect_action = make_action("Deselect", self.deselect, DESELECT_KEYS[0])
        self.deselect_action.setShortcuts([QKeySequence(key) for key in DESELECT_KEYS])
        self.deselect_action.setToolTip("Deselect (Ctrl+D, Ctrl+Shift+A or Esc)")
        self.lock_action = make_action("Lock the picture", None, "L", "lock-picture", True)
        self.lock_action.setToolTip(
            "Lock the picture (L): each change repaints only where the sketch changed"
        )
        bind_checked(self.lock_action, controller.state, "picture_locked")
        self.regions.selection_changed.connect(self._show)
        self._show()

    @property
    def actions(self) -> tuple[QAction, ...]:
        """The tool bar's, beside the brush and eraser."""
        return (self.rectangle_action, self.lasso_action, self.lock_action)

    def use_tool(self, tool: str) -> None:
        """``tool``: a selection tool (TOOLS), else the brush or eraser (none of these)."""
        self.tool.use(tool if tool in TOOLS else None)
        self.rectangle_action.setChecked(tool == "rectangle")
        self.lasso_action.setChecked(tool == "lasso")

    def select(self, selection: Selection | None, text: str | None = None) -> None:
        """Select ``selection`` (None: deselect) as one undo step; nothing when it is what is
        selected already."""
        before = self.regions.selection
        if selection == before:
            return
        self.canvas.end_stroke()
        text = text or ("Select" if selection is not None else "Deselect")
        self.canvas.undo_stack.push(
            SelectionCommand(self.regions.set_selection, before, selection, text)
        )

    def select_all(self) -> None:
        image = self.canvas.image()
        self.select(Selection.whole(image.width(), image.height()), "Select all")

    def deselect(self) -> None:
        self.select(None)

    def use_escape(self, on: bool) -> None:
        """Esc deselects unless something else holds it now (a Finish in progress: Esc
        cancels that), so one key press never means two things."""
        keys = DESELECT_KEYS if on else tuple(k for k in DESELECT_KEYS if k != "Esc")
        self.deselect_action.setShortcuts([QKeySequence(key) for key in keys])

    def load(self, selection: Selection | None) -> None:
        """The autosaved selection, on this page (not an undo step)."""
        image = self.canvas.image()
        on_page = selection.on_page(image.width(), image.height()) if selection else None
        self.regions.set_selection(on_page)

    def undo(self) -> None:
        """Undo (a stroke in progress ends first): a step made with the picture locked
        brings back the picture that stood before it."""
        self.canvas.end_stroke()
        self.picture_undo.before_undo()
        self.canvas.undo_stack.undo()

    def _show(self) -> None:
        selection = self.regions.selection
        self.canvas_ants.show_selection(selection)
        self.picture_ants.show_selection(selection)

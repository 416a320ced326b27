"""The tool bar: the window's actions in groups, and the brush size bound to the state."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QSpinBox, QToolBar, QToolButton, QWidget

from desktop_app.app.state import LiveState
from desktop_app.ui.bindings import bind_spin


class ToolBar(QToolBar):
    def __init__(
        self,
        state: LiveState,
        groups: Sequence[Sequence[QAction | str]],
        parent: QWidget | None = None,
    ) -> None:
        """``groups`` are separated by a line; the name "brush size" in a group places the
        brush size box there."""
        super().__init__("Tools", parent)
        self.setObjectName("tools")
        self.setMovable(False)
        self.size_box = QSpinBox()
        self.size_box.setToolTip("Brush size ([ and ])")
        bind_spin(self.size_box, state, "brush_size")
        for n, group in enumerate(groups):
            if n:
                self.addSeparator()
            for item in group:
                if item == "brush size":
                    self.addWidget(self.size_box)
                else:
                    self.addAction(item)

    def open_menu_at_once(self, action: QAction) -> None:
        """A button that is only a menu (Help) opens it on the first click."""
        button = self.widgetForAction(action)
        if isinstance(button, QToolButton):
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)

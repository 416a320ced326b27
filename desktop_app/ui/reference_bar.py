"""The reference row under the images: show it or not, how strongly, whether its lines join
the strokes, and Remove. It appears when a reference image is under the strokes, and keeps
the canvas's reference in step with the state and the worker's line art."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from desktop_app.app.controller import Controller
from desktop_app.ui.bindings import bind_checked, bind_slider
from desktop_app.ui.canvas import SketchCanvas


class ReferenceBar(QWidget):
    def __init__(self, controller: Controller, canvas: SketchCanvas) -> None:
        super().__init__()
        self.setObjectName("reference_bar")
        self.controller, self.canvas, self.state = controller, canvas, controller.state
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.visible = QCheckBox("Reference image")
        self.visible.setToolTip("Show the image under your strokes (Ctrl+I puts one there)")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setAccessibleName("Reference opacity")
        self.opacity.setToolTip("How strongly the reference shows (and, in colour mode, counts)")
        self.lines = QCheckBox("Lines from it")
        self.lines.setToolTip("Its outlines join your strokes as lines for the picture to follow")
        self.remove = QPushButton("Remove")
        self.remove.setToolTip("Take the reference away (undoable)")
        row.addWidget(self.visible)
        row.addWidget(QLabel("Opacity"))
        row.addWidget(self.opacity, 1)
        row.addWidget(self.lines)
        row.addWidget(self.remove)
        bind_checked(self.visible, self.state, "reference_visible")
        bind_slider(self.opacity, self.state, "reference_opacity")
        bind_checked(self.lines, self.state, "reference_lines")
        self.remove.clicked.connect(canvas.remove_reference)
        for name in ("reference_visible", "reference_opacity", "reference_lines"):
            getattr(self.state, f"{name}_changed").connect(self._show_look)
        canvas.reference_changed.connect(self._on_reference_changed)
        controller.reference_lines_ready.connect(canvas.set_reference_lines)
        self._show_look()
        self.setVisible(False)

    def _show_look(self, *_value) -> None:
        state = self.state
        self.canvas.set_reference_look(
            state.reference_opacity, state.reference_visible, state.reference_lines
        )

    def _on_reference_changed(self) -> None:
        layer = self.canvas.reference
        self.setVisible(layer.image is not None)
        if layer.image is not None and layer.lines is None:  # undo brings its lines back
            self.controller.find_reference_lines(layer.rgb(), layer.version)

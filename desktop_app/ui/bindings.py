"""Two-way bindings between widgets and ``LiveState`` properties (Krita AI Diffusion style).

Each helper sets the widget from the state, then keeps both in step. ``LiveState`` emits
nothing when a value does not change and the widgets are only set when they differ, so the
round trip never loops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QColor, QTextCursor
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QSpinBox,
)

from desktop_app.app.state import LiveState
from desktop_app.core.settings_table import SETTINGS

if TYPE_CHECKING:
    from desktop_app.ui.canvas import SketchCanvas


def _signal(state: LiveState, name: str):
    return getattr(state, f"{name}_changed")


def bind_text(
    widget: QLineEdit | QPlainTextEdit,
    state: LiveState,
    name: str,
    on_cut: Callable[[str], None] | None = None,
) -> None:
    """``on_cut(message)`` is told when typed or pasted text went past the setting's length
    and its end was cut off (the box never holds more than the setting keeps)."""
    limit = SETTINGS[name].max_chars
    if isinstance(widget, QPlainTextEdit):

        def read() -> str:
            return widget.toPlainText()

        def write(text: str) -> None:
            if widget.toPlainText() != text:
                widget.setPlainText(text)
                widget.moveCursor(QTextCursor.MoveOperation.End)

        def typed() -> None:
            text = read()
            if limit is not None and len(text) > limit:
                write(text[:limit])  # emits textChanged again, with the cut text
                if on_cut is not None:
                    on_cut(f"The {SETTINGS[name].noun.removeprefix('the ')} is limited to "
                           f"{limit} characters: the rest was cut")
                return
            setattr(state, name, text)

        widget.textChanged.connect(typed)
    else:
        if limit is not None:
            widget.setMaxLength(limit)

        def write(text: str) -> None:
            if widget.text() != text:
                widget.setText(text)

        widget.textChanged.connect(lambda text: setattr(state, name, text))
    write(getattr(state, name))
    _signal(state, name).connect(write)


def bind_checked(button: QAbstractButton | QAction, state: LiveState, name: str) -> None:
    button.setCheckable(True)
    button.setChecked(bool(getattr(state, name)))
    button.toggled.connect(lambda checked: setattr(state, name, bool(checked)))
    _signal(state, name).connect(
        lambda value: button.isChecked() != value and button.setChecked(value)
    )


def bind_slider(slider: QSlider, state: LiveState, name: str, scale: int = 100) -> None:
    """A float property shown on an integer slider (value * scale), over the setting's range
    (an open low end starts one tick above it)."""
    setting = SETTINGS[name]
    slider.setRange(round(setting.low * scale) + setting.low_open, round(setting.high * scale))

    def write(value: float) -> None:
        if slider.value() != round(value * scale):
            slider.setValue(round(value * scale))

    write(getattr(state, name))
    slider.valueChanged.connect(lambda v: setattr(state, name, v / scale))
    _signal(state, name).connect(write)


def bind_spin(spin: QSpinBox | QDoubleSpinBox, state: LiveState, name: str) -> None:
    """A whole-number property; a QDoubleSpinBox with no decimals carries values past a
    32-bit int (seeds up to 2**32 - 1) exactly."""
    setting = SETTINGS[name]
    spin.setRange(setting.low, setting.high)

    def write(value: int) -> None:
        if int(spin.value()) != value:
            spin.setValue(value)

    write(getattr(state, name))
    spin.valueChanged.connect(lambda v: setattr(state, name, int(v)))
    _signal(state, name).connect(write)


def bind_brush(canvas: SketchCanvas, state: LiveState) -> None:
    """The canvas's brush size and colour are the state's ``brush_size`` / ``brush_colour``."""
    canvas.brush_size = state.brush_size
    canvas.brush_colour = QColor(state.brush_colour)

    def read() -> None:
        state.brush_size = int(canvas.brush_size)
        state.brush_colour = canvas.brush_colour.name()

    def write(_value: object) -> None:
        if canvas.brush_size != state.brush_size:
            canvas.brush_size = state.brush_size
        if canvas.brush_colour.name() != state.brush_colour:
            canvas.brush_colour = QColor(state.brush_colour)

    canvas.brush_changed.connect(read)
    state.brush_size_changed.connect(write)
    state.brush_colour_changed.connect(write)


def bind_combo(combo: QComboBox, state: LiveState, name: str) -> None:
    """A combo whose item data are the property's values."""

    def write(value: object) -> None:
        index = combo.findData(value)
        if index >= 0 and index != combo.currentIndex():
            combo.setCurrentIndex(index)

    write(getattr(state, name))
    combo.currentIndexChanged.connect(
        lambda i: combo.itemData(i) is not None and setattr(state, name, combo.itemData(i))
    )
    _signal(state, name).connect(write)

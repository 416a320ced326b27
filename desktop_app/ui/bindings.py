"""Two-way bindings between widgets and ``LiveState`` properties (Krita AI Diffusion style).

Each helper sets the widget from the state, then keeps both in step. ``LiveState`` emits
nothing when a value does not change and the widgets are only set when they differ, so the
round trip never loops.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QSpinBox,
)

from desktop_app.app.state import LiveState


def _signal(state: LiveState, name: str):
    return getattr(state, f"{name}_changed")


def bind_text(widget: QLineEdit | QPlainTextEdit, state: LiveState, name: str) -> None:
    if isinstance(widget, QPlainTextEdit):

        def read() -> str:
            return widget.toPlainText()

        def write(text: str) -> None:
            if widget.toPlainText() != text:
                widget.setPlainText(text)

        widget.textChanged.connect(lambda: setattr(state, name, read()))
    else:

        def write(text: str) -> None:
            if widget.text() != text:
                widget.setText(text)

        widget.textChanged.connect(lambda text: setattr(state, name, text))
    write(getattr(state, name))
    _signal(state, name).connect(write)


def bind_checked(button: QAbstractButton, state: LiveState, name: str) -> None:
    button.setCheckable(True)
    button.setChecked(bool(getattr(state, name)))
    button.toggled.connect(lambda checked: setattr(state, name, bool(checked)))
    _signal(state, name).connect(
        lambda value: button.isChecked() != value and button.setChecked(value)
    )


def bind_slider(slider: QSlider, state: LiveState, name: str, scale: int = 100) -> None:
    """A float property shown on an integer slider (value * scale)."""

    def write(value: float) -> None:
        if slider.value() != round(value * scale):
            slider.setValue(round(value * scale))

    write(getattr(state, name))
    slider.valueChanged.connect(lambda v: setattr(state, name, v / scale))
    _signal(state, name).connect(write)


def bind_spin(spin: QSpinBox, state: LiveState, name: str) -> None:
    spin.setValue(int(getattr(state, name)))
    spin.valueChanged.connect(lambda v: setattr(state, name, int(v)))
    _signal(state, name).connect(lambda v: spin.value() != v and spin.setValue(int(v)))


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

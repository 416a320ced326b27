"""The observable generation state (Krita AI Diffusion style): a QObject with ``*_changed``.

Widgets never hold generation state; they bind to these properties both ways
(see ``desktop_app.ui.bindings``). Setting a property to its current value emits nothing,
which is what keeps two-way bindings from looping.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from desktop_app.engine.presets import DEFAULT_PRESET


def _observable(name: str) -> property:
    attr = f"_{name}"

    def getter(self: LiveState) -> Any:
        return getattr(self, attr)

    def setter(self: LiveState, value: Any) -> None:
        if getattr(self, attr) == value:
            return
        setattr(self, attr, value)
        getattr(self, f"{name}_changed").emit(value)
        self.changed.emit(name)

    return property(getter, setter)


class LiveState(QObject):
    """Everything that shapes the next frame, except the sketch pixels."""

    FIELDS = (
        "prompt",
        "preset",
        "mode",
        "control_scale",
        "strength",
        "seed",
        "seed_locked",
        "live",
        "steps",
        "size",
    )

    prompt_changed = Signal(str)
    preset_changed = Signal(str)
    mode_changed = Signal(str)
    control_scale_changed = Signal(float)
    strength_changed = Signal(float)
    seed_changed = Signal(int)
    seed_locked_changed = Signal(bool)
    live_changed = Signal(bool)
    steps_changed = Signal(int)
    size_changed = Signal(int)
    changed = Signal(str)  # the name of whichever property changed

    prompt = _observable("prompt")
    preset = _observable("preset")
    mode = _observable("mode")
    control_scale = _observable("control_scale")
    strength = _observable("strength")
    seed = _observable("seed")
    seed_locked = _observable("seed_locked")
    live = _observable("live")
    steps = _observable("steps")
    size = _observable("size")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._prompt = ""
        self._preset = DEFAULT_PRESET
        self._mode = "scribble"
        self._control_scale = 1.0
        self._strength = 0.6
        self._seed = 0
        self._seed_locked = False
        self._live = True
        self._steps = 1
        self._size = 512

    def snapshot(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def apply(self, values: dict[str, Any]) -> None:
        """Set every known field present in ``values`` (unknown keys are ignored)."""
        for name in self.FIELDS:
            if name in values and values[name] is not None:
                current = getattr(self, name)
                try:
                    value = type(current)(values[name])
                except (TypeError, ValueError):
                    continue
                setattr(self, name, value)

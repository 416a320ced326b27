"""The observable state (Krita AI Diffusion style): a QObject with a property and a
``*_changed`` signal for every setting in ``core.settings_table``.

Widgets hold no settings of their own; they bind to these properties both ways (see
``desktop_app.ui.bindings``). Setting a property to its current value emits nothing, which is
what keeps two-way bindings from looping. The properties are made from the table, so a new
setting is one line there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from desktop_app.core.settings_table import SETTINGS


def _observable(name: str) -> property:
    attr = f"_{name}"
    fitted = SETTINGS[name].fitted  # an over-long prompt is cut here, whoever sets it

    def getter(self: LiveState) -> Any:
        return getattr(self, attr)

    def setter(self: LiveState, value: Any) -> None:
        value = fitted(value)
        if getattr(self, attr) == value:
            return
        setattr(self, attr, value)
        getattr(self, f"{name}_changed").emit(value)
        self.changed.emit(name)

    return property(getter, setter)


def _signal_type(kind: type) -> type:
    # Seeds reach 2**32 - 1, past a Qt int: they travel as Python objects.
    return object if kind in (int, bytes) else kind


class _StateMeta(type(QObject)):  # type: ignore[misc]  # Qt's metaclass, made at run time
    """Adds ``NAME`` and ``NAME_changed`` for every setting before Qt sees the class."""

    def __new__(mcs, name, bases, namespace):
        for setting in SETTINGS.values():
            namespace[f"{setting.name}_changed"] = Signal(_signal_type(setting.kind))
            namespace[setting.name] = _observable(setting.name)
        return super().__new__(mcs, name, bases, namespace)


class LiveState(QObject, metaclass=_StateMeta):
    """Every setting the user can change (everything but the sketch pixels)."""

    FIELDS = tuple(SETTINGS)
    changed = Signal(str)  # the name of whichever property changed

    if TYPE_CHECKING:
        # The properties and their signals are made from the table (a setting is declared
        # once, there), so a type checker cannot list them: any such name reads as Any.
        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        for name, setting in SETTINGS.items():
            setattr(self, f"_{name}", setting.default)

    def snapshot(self, names: tuple[str, ...] = FIELDS) -> dict[str, Any]:
        return {name: getattr(self, name) for name in names}

    def apply(self, values: dict[str, Any]) -> None:
        """Set each setting in ``values`` that passes the table's rule; others are left alone
        (callers that read stored values say what was dropped: see ``load_stored``)."""
        for name, value in values.items():
            setting = SETTINGS.get(name)
            if setting is None:
                continue
            value = setting.fitted(value)
            try:
                setting.check(value)
            except ValueError:
                continue
            setattr(self, name, value)

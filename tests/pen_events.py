"""Tablet events as a pen sends them (a stylus device, its tip or its eraser end), for the
tests and the pen benchmark."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent

_DEVICES: dict[QPointingDevice.PointerType, QPointingDevice] = {}


def stylus(end: QPointingDevice.PointerType = QPointingDevice.PointerType.Pen) -> QPointingDevice:
    if end not in _DEVICES:
        _DEVICES[end] = QPointingDevice(
            "test stylus",
            1000 + len(_DEVICES),
            QInputDevice.DeviceType.Stylus,
            end,
            QInputDevice.Capability.Position | QInputDevice.Capability.Pressure,
            1,
            2,
        )
    return _DEVICES[end]


def tablet_event(
    kind: QTabletEvent.Type,
    pos: QPointF,
    pressure: float = 1.0,
    end: QPointingDevice.PointerType = QPointingDevice.PointerType.Pen,
) -> QTabletEvent:
    down = kind != QTabletEvent.Type.TabletRelease
    buttons = Qt.MouseButton.LeftButton if down else Qt.MouseButton.NoButton
    return QTabletEvent(
        kind,
        stylus(end),
        pos,
        pos,
        pressure,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        Qt.KeyboardModifier.NoModifier,
        Qt.MouseButton.LeftButton,
        buttons,
    )


def stroke_events(points, end=QPointingDevice.PointerType.Pen) -> list[QTabletEvent]:
    """Press at the first point, a move to each of the others, release at the last."""
    kinds = [QTabletEvent.Type.TabletPress] + [QTabletEvent.Type.TabletMove] * (len(points) - 1)
    events = [
        tablet_event(kind, QPointF(*p), end=end) for kind, p in zip(kinds, points, strict=True)
    ]
    return events + [tablet_event(QTabletEvent.Type.TabletRelease, QPointF(*points[-1]), end=end)]

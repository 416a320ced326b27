"""Persistent preferences (QSettings, mnelab style: one ``_DEFAULTS`` dict) and app folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QCoreApplication, QSettings, QStandardPaths

import desktop_app

ORGANIZATION = "LiveCanvas"
APPLICATION = "Live Canvas"

_DEFAULTS: dict[str, Any] = {
    "preset": "sdxl-turbo",
    "mode": "scribble",
    "control_scale": 1.0,
    "strength": 0.6,
    "seed": 0,
    "seed_locked": False,
    "live": True,
    "steps": 1,
    "size": 512,
    "brush_size": 6,
    "brush_colour": "#000000",
    "layout": "side",  # "side" or "stacked"
    "geometry": QByteArray(),
    "export_dir": "",
    "save_sketch": False,
}


def set_application_names() -> None:
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)


def resources_dir() -> Path:
    return Path(desktop_app.__file__).resolve().parent.parent / "resources"


def app_data_dir() -> Path:
    """Where the autosave lives (created on demand)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if not location:
        location = str(Path.home() / ".local" / "share" / APPLICATION)
    return Path(location)


def default_export_dir() -> Path:
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(pictures or Path.home()) / "Live Canvas"


def _convert(value: Any, default: Any) -> Any:
    if value is None:
        return default
    try:
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in ("true", "1")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, QByteArray):
            return value if isinstance(value, QByteArray) else QByteArray(value)
        return type(default)(value)
    except (TypeError, ValueError):
        return default


def read_settings(settings: QSettings | None = None) -> dict[str, Any]:
    settings = settings if settings is not None else QSettings()
    return {key: _convert(settings.value(key), default) for key, default in _DEFAULTS.items()}


def write_settings(values: dict[str, Any], settings: QSettings | None = None) -> None:
    settings = settings if settings is not None else QSettings()
    for key, value in values.items():
        if key in _DEFAULTS:
            settings.setValue(key, value)
    settings.sync()

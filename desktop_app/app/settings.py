"""Preferences (QSettings, mnelab style) and the app's folders.

Which settings are preferences, and their defaults and ranges, come from
``core.settings_table``; a stored value that breaks its rule (a hand-edited file, an older
version's) falls back to the default for that one setting, with one line saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QCoreApplication, QObject, QSettings, QStandardPaths, QTimer

from desktop_app.app.state import LiveState
from desktop_app.core.settings_table import load_stored, stored_in

ORGANIZATION = "LiveCanvas"
APPLICATION = "Live Canvas"
PREF_KEYS = stored_in("prefs")
PREFS_SAVE_DELAY_MS = 3000


def set_application_names() -> None:
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)


def app_data_dir() -> Path:
    """Where the autosave lives (created on demand)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if not location:
        location = str(Path.home() / ".local" / "share" / APPLICATION)
    return Path(location)


def read_prefs(settings: QSettings) -> tuple[dict[str, Any], list[str]]:
    """The valid stored preferences, and a line for each one dropped."""
    raw = {}
    for key in PREF_KEYS:
        try:
            value = settings.value(key)
        except Exception:  # noqa: BLE001 - QSettings cannot decode a damaged @Variant entry
            value = "(unreadable)"
        raw[key] = bytes(value.data()) if isinstance(value, QByteArray) else value
    return load_stored(raw, PREF_KEYS, f"settings file {settings.fileName()}")


def write_prefs(values: dict[str, Any], settings: QSettings) -> None:
    for key in PREF_KEYS:
        if key in values:
            value = values[key]
            settings.setValue(key, QByteArray(value) if isinstance(value, bytes) else value)
    settings.sync()


class PreferencesKeeper(QObject):
    """Writes the state's preferences a few seconds after one changes, not only on a clean
    close: a crash or a killed session keeps the brush, the sliders and the model."""

    def __init__(self, state: LiveState, settings: QSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.settings = settings
        self.timer = QTimer(self, singleShot=True, interval=PREFS_SAVE_DELAY_MS)
        self.timer.timeout.connect(self.save)
        state.changed.connect(self._on_changed)

    def _on_changed(self, name: str) -> None:
        if name in PREF_KEYS:
            self.timer.start()

    def save(self) -> None:
        self.timer.stop()
        write_prefs(self.state.snapshot(PREF_KEYS), self.settings)

"""The user's own model combinations ("user presets"), kept in QSettings with the preferences.

A user preset names a base (a preset, a hub id, a diffusers folder or a ``.safetensors``
file) and optionally a ControlNet and a preview decoder. The app selects it as the model
``user:NAME``; ``resolving_loader`` turns that back into a ``load_engine`` call in the render
worker. All presets live as one JSON list under one key, so names need no QSettings escaping.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from desktop_app.app.worker import Loader
from desktop_app.core.errors import ModelLoadError
from desktop_app.models.presets import PRESETS
from desktop_app.remote.address import is_server_model

USER_PREFIX = "user:"
SETTINGS_KEY = "user_presets"
LABELS = {"base": "base model", "controlnet": "ControlNet", "preview_decoder": "preview decoder"}


@dataclass(frozen=True)
class UserPreset:
    name: str
    base: str
    controlnet: str = ""
    preview_decoder: str = ""

    @property
    def key(self) -> str:
        """The model name the state, the chooser and the loader use."""
        return USER_PREFIX + self.name

    def describe(self) -> str:
        parts = [f"base: {self.base}"]
        if self.controlnet:
            parts.append(f"ControlNet: {self.controlnet}")
        if self.preview_decoder:
            parts.append(f"preview decoder: {self.preview_decoder}")
        return "; ".join(parts)


def user_preset_name(model: str) -> str | None:
    return model[len(USER_PREFIX) :] if model.startswith(USER_PREFIX) else None


def _local_path(value: str) -> bool:
    drive = len(value) > 1 and value[1] == ":"  # C:\models\...
    return drive or value.startswith(("/", ".", "~", "\\")) or value.endswith(".safetensors")


def make_user_preset(
    name: str, base: str, controlnet: str = "", preview_decoder: str = "", taken=()
) -> UserPreset:
    """Checks the fields; raises ModelLoadError with a one-line reason."""
    name, base = name.strip(), base.strip()
    controlnet, preview_decoder = controlnet.strip(), preview_decoder.strip()
    if not name:
        raise ModelLoadError("give the preset a name")
    if name in PRESETS or name in taken:
        raise ModelLoadError(f"a preset named {name!r} exists already; choose another name")
    if not base:
        raise ModelLoadError("choose a base model: a preset, a hub id, a folder or a .safetensors")
    fields = {"base": base, "controlnet": controlnet, "preview_decoder": preview_decoder}
    for field, value in fields.items():
        if not value or value in PRESETS:
            continue
        path = Path(value).expanduser()
        if path.exists():
            fields[field] = str(path.resolve())
        elif _local_path(value):
            raise ModelLoadError(f"{LABELS[field]} not found: {value}")
    return UserPreset(name, **fields)


def read_user_presets(settings: QSettings | None = None) -> list[UserPreset]:
    settings = settings if settings is not None else QSettings()
    try:
        entries = json.loads(str(settings.value(SETTINGS_KEY, "[]") or "[]"))
        return [UserPreset(**entry) for entry in entries if entry.get("name")]
    except (ValueError, TypeError, AttributeError):
        return []  # a hand-edited or damaged entry must not stop the app from starting


def write_user_presets(presets: list[UserPreset], settings: QSettings | None = None) -> None:
    settings = settings if settings is not None else QSettings()
    settings.setValue(SETTINGS_KEY, json.dumps([asdict(p) for p in presets]))
    settings.sync()


class UserPresetStore:
    """The presets in memory, written through to ``settings`` (None: kept in memory only).

    The render worker reads it while the UI thread adds to it; each step is one dict
    operation, which the GIL keeps whole.
    """

    def __init__(self, settings: QSettings | None = None) -> None:
        self.settings = settings
        loaded = read_user_presets(settings) if settings is not None else []
        self._presets = {p.name: p for p in loaded}

    def all(self) -> list[UserPreset]:
        return list(self._presets.values())

    def names(self) -> list[str]:
        return list(self._presets)

    def get(self, name: str) -> UserPreset | None:
        return self._presets.get(name)

    def add(self, preset: UserPreset) -> None:
        self._presets = {**self._presets, preset.name: preset}
        self._save()

    def remove(self, name: str) -> None:
        self._presets = {k: v for k, v in self._presets.items() if k != name}
        self._save()

    def _save(self) -> None:
        if self.settings is not None:
            write_user_presets(self.all(), self.settings)


def resolving_loader(loader: Loader | None, store: UserPresetStore) -> Loader:
    """A loader that also understands ``user:NAME`` and ``server:URL`` (whose ``options``
    are the server's token and CA files); others go to ``loader`` unchanged."""

    def load(model: str, device: str | None = None, progress: Any = None, **options: Any) -> Any:
        if is_server_model(model):
            from desktop_app.app import engine_api

            return engine_api.connect_server(model, progress, **options)
        name = user_preset_name(model)
        if name is None:
            if loader is None:
                from desktop_app.app import engine_api

                return engine_api.load_engine(model, device=device, progress=progress)
            return loader(model, device=device, progress=progress)
        preset = store.get(name)
        if preset is None:
            raise ModelLoadError(f"there is no saved preset named {name!r}; choose another model")
        named = {"controlnet": preset.controlnet, "preview_decoder": preset.preview_decoder}
        extras: dict[str, Any] = {key: value for key, value in named.items() if value}
        if loader is None:
            # The render worker calls this, so torch is imported there, never in the UI thread.
            from desktop_app.engine.loading import load_engine

            return load_engine(preset.base, device=device, progress=progress, **extras)
        return loader(preset.base, device=device, progress=progress, **extras)

    return load

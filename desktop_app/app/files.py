"""File names and atomic writes for exports and the autosave."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.errors import OutputError
from desktop_app.core.metadata import save_png, write_atomically


def export_path(directory: Path, seed: int, now: datetime | None = None) -> Path:
    """``live-canvas-YYYYmmdd-HHMMSS-SEED.png`` in ``directory``, never an existing file.

    The matching ``-sketch.png`` name is kept free as well.
    """
    stem = f"live-canvas-{(now or datetime.now()):%Y%m%d-%H%M%S}-{seed}"
    for n in itertools.count():
        name = stem if n == 0 else f"{stem}-{n}"
        path = directory / f"{name}.png"
        if not path.exists() and not sketch_path(path).exists():
            return path
    raise AssertionError("unreachable")


def sketch_path(image_path: Path) -> Path:
    return image_path.with_name(f"{image_path.stem}-sketch.png")


def ensure_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create the folder {directory}: {err.strerror or err}") from None
    if not directory.is_dir():
        raise OutputError(f"cannot create the folder {directory}: a file is in the way")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path`` and rename it into place (creating the folder)."""
    ensure_dir(path.parent)
    write_atomically(path, lambda handle: handle.write(data))


def save_image(path: Path, image: np.ndarray) -> None:
    ensure_dir(path.parent)
    save_png(path, image)


def read_png(path: Path) -> np.ndarray | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB")).copy()
    except (OSError, UnidentifiedImageError):
        return None


class Autosave:
    """``sketch.png`` + ``session.json`` (prompt and settings) in the app-data folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def sketch_file(self) -> Path:
        return self.directory / "autosave-sketch.png"

    @property
    def session_file(self) -> Path:
        return self.directory / "autosave-session.json"

    def save(self, sketch: np.ndarray | None, session: dict[str, Any]) -> None:
        if sketch is not None:
            save_image(self.sketch_file, sketch)
        write_atomic(self.session_file, json.dumps(session, indent=1).encode())

    def load(self) -> tuple[np.ndarray | None, dict[str, Any]]:
        session: dict[str, Any] = {}
        try:
            loaded = json.loads(self.session_file.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                session = loaded
        except (OSError, ValueError):
            pass
        sketch = read_png(self.sketch_file) if self.sketch_file.exists() else None
        return sketch, session

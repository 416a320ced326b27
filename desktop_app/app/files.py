"""File names and atomic writes for exports and the autosave."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.app.selection import Selection
from desktop_app.core.errors import OutputError, SketchError
from desktop_app.core.metadata import save_png, write_atomically
from desktop_app.core.settings_table import load_stored, stored_in


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


MAX_SKETCH_SIDE = 8192  # an autosaved or imported sketch larger than this is not a sketch


def read_png(path: Path | str, data: bytes | None = None) -> np.ndarray:
    """An image file (or ``data``, the bytes of one, named ``path``) as RGB; SketchError
    says, in one line, why it cannot be read.

    The size is checked from the header before any pixel is decoded, so a hostile or broken
    file (20000 x 20000, a decompression bomb) costs nothing; any decoding failure of
    Pillow's, whatever its type, is a file that cannot be read, never a crash.
    """
    import io

    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path if data is None else io.BytesIO(data)) as image:
            width, height = image.size
            if max(width, height) > MAX_SKETCH_SIDE:
                raise SketchError(
                    f"{path.name} is {width}x{height} pixels, larger than a sketch can be "
                    f"({MAX_SKETCH_SIDE} a side)"
                )
            return np.asarray(image.convert("RGB")).copy()
    except SketchError:
        raise
    except FileNotFoundError:
        raise SketchError(f"{path} does not exist") from None
    except Image.DecompressionBombError:
        # Pillow refuses such a header itself, before its size can be read.
        raise SketchError(
            f"{path.name} is larger than a sketch can be ({MAX_SKETCH_SIDE} pixels a side)"
        ) from None
    except Exception as err:  # noqa: BLE001 - truncated, empty, garbage, bombs: all unreadable
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise SketchError(f"{path.name} cannot be read as an image ({first})") from None


def keep_aside(path: Path) -> Path | None:
    """Rename a damaged file so that the next save does not overwrite it (the user may
    want it back); returns the new name, or None when even that failed."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in itertools.count():
        suffix = f"-{n}" if n else ""
        target = path.with_name(f"{path.stem}.damaged-{stamp}{suffix}{path.suffix}")
        if not target.exists():
            break
    try:
        path.rename(target)
    except OSError:
        return None
    return target


@dataclass(frozen=True)
class Restored:
    """What the autosave gave back: the sketch, the valid settings, and one line for each
    thing that had to be dropped; the reference image under the strokes, if there was one,
    and the selection on the page."""

    sketch: np.ndarray | None
    values: dict[str, Any]
    notices: tuple[str, ...]
    reference: np.ndarray | None = None
    selection: Selection | None = None


class _Keep:
    """The reference has not changed since the last save: leave its file as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


class Autosave:
    """``autosave-sketch.png`` + ``autosave-session.json`` (the prompt and the settings that
    made the picture) in the app-data folder, each written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def sketch_file(self) -> Path:
        return self.directory / "autosave-sketch.png"

    @property
    def session_file(self) -> Path:
        return self.directory / "autosave-session.json"

    @property
    def reference_file(self) -> Path:
        return self.directory / "autosave-reference.png"

    def save(
        self,
        sketch: np.ndarray | None,
        session: dict[str, Any],
        reference: np.ndarray | _Keep | None = KEEP,
    ) -> None:
        """``reference``: the image to keep, None when there is none (any old one goes),
        KEEP when it did not change (a photo is not encoded again at every stroke)."""
        if sketch is not None:
            save_image(self.sketch_file, sketch)
        if reference is None:
            self.reference_file.unlink(missing_ok=True)
        elif not isinstance(reference, _Keep):
            save_image(self.reference_file, reference)
        write_atomic(self.session_file, json.dumps(session, indent=1).encode())

    def load(self) -> Restored:
        """Never raises: a damaged file is kept aside and said, a bad value is dropped."""
        notices: list[str] = []
        raw = self._load_session(notices)
        values, dropped = load_stored(raw, stored_in("session"), "autosaved session")
        notices += dropped
        sketch = self._image(self.sketch_file, "autosaved sketch", notices)
        reference = self._image(self.reference_file, "autosaved reference image", notices)
        try:
            selection = Selection.from_stored(raw.get("selection"))
        except ValueError as err:
            notices.append(f"autosaved session: {err}; nothing is selected")
            selection = None
        return Restored(sketch, values, tuple(notices), reference, selection)

    def _image(self, path: Path, what: str, notices: list[str]) -> np.ndarray | None:
        if not path.exists():
            return None
        try:
            return read_png(path)
        except SketchError as err:
            notices.append(self._damaged(path, what, err))
            return None

    def _load_session(self, notices: list[str]) -> dict[str, Any]:
        try:
            text = self.session_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            notices.append(self._damaged(self.session_file, "autosaved session", err))
            return {}
        try:
            loaded = json.loads(text)
        except ValueError as err:
            notices.append(self._damaged(self.session_file, "autosaved session", err))
            return {}
        if not isinstance(loaded, dict):
            notices.append(self._damaged(self.session_file, "autosaved session", "not a table"))
            return {}
        return loaded

    @staticmethod
    def _damaged(path: Path, what: str, err: object) -> str:
        reason = (str(err).splitlines() or ["damaged"])[0]
        kept = keep_aside(path)
        where = f"it was kept as {kept}" if kept else "it could not be moved aside"
        return f"The {what} could not be read ({reason}); {where}."

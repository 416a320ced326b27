"""The filmstrip kept with the session: its pictures, the settings that made them and the
pins survive a restart and a crash.

On disk, beside the autosave: ``filmstrip/`` holds one PNG per picture (lossless: a restored
picture is the one that was shown, pixel for pixel) and ``index.json``, the entries newest
first with their pins and generation parameters. The files on disk stay within a byte budget
(``MAX_FILMSTRIP_BYTES``): past it, the oldest unpinned pictures are left out first, then the
oldest pinned ones; the strip on screen keeps them until the app closes. Writes run on a
``BackgroundWriter`` (new pictures first, then the index atomically, then the pictures no
longer listed are removed), so a crash leaves the last complete index. A damaged index or
picture is kept aside (``*.damaged-*``) and said in one line; the app starts with what could
be read.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from desktop_app.app import files
from desktop_app.app.background_writer import BackgroundWriter
from desktop_app.app.history import History, HistoryEntry
from desktop_app.core.errors import SketchError
from desktop_app.core.settings_table import SETTINGS
from desktop_app.core.types import FrameResult, FrameTimings, GenerationParams

MAX_FILMSTRIP_BYTES = 50 * 1024**2
FORMAT = 1
_CHECKED = ("prompt", "seed", "steps", "size", "mode", "control_scale")  # by the settings table


@dataclass(frozen=True, eq=False)
class StoredPicture:
    """One entry as it is kept: ``name`` is its PNG's file name in the folder."""

    name: str
    image: np.ndarray
    params: GenerationParams
    pinned: bool


@dataclass(frozen=True)
class LoadedFilmstrip:
    pictures: tuple[StoredPicture, ...]  # newest first
    notices: tuple[str, ...]  # one line for each damaged file kept aside


class FilmstripStore:
    """``index.json`` and the pictures in ``directory``."""

    def __init__(self, directory: Path, max_bytes: int = MAX_FILMSTRIP_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        # The encoded size of each picture written once (the writing thread's): one left out
        # for the budget is not encoded again at every change to learn that it still is.
        self._sizes: dict[str, int] = {}

    @property
    def index_file(self) -> Path:
        return self.directory / "index.json"

    def save(self, pictures: tuple[StoredPicture, ...]) -> tuple[str, ...]:
        """Keep ``pictures`` (newest first) within the budget; returns the names kept."""
        for picture in pictures:
            if picture.name not in self._sizes:
                self._write_picture(picture)
        self._sizes = {p.name: self._sizes[p.name] for p in pictures}
        kept = within_budget(pictures, self._sizes, self.max_bytes)
        for picture in kept:
            if not (self.directory / picture.name).exists():  # left out before, kept now
                self._write_picture(picture)
        entries = [
            {"file": p.name, "pinned": p.pinned, "params": dataclasses.asdict(p.params)}
            for p in kept
        ]
        text = json.dumps({"format": FORMAT, "entries": entries}, ensure_ascii=False, indent=1)
        files.write_atomic(self.index_file, text.encode())
        names = {p.name for p in kept}
        for path in self.directory.glob("*.png"):
            if path.name not in names and ".damaged-" not in path.name:
                path.unlink(missing_ok=True)
        return tuple(p.name for p in kept)

    def _write_picture(self, picture: StoredPicture) -> None:
        path = self.directory / picture.name
        files.save_image(path, picture.image)
        self._sizes[picture.name] = path.stat().st_size

    def load(self) -> LoadedFilmstrip:
        """Never raises: a damaged index is kept aside (an empty filmstrip), a damaged
        picture is kept aside and its entry left out."""
        try:
            text = self.index_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return LoadedFilmstrip((), ())
        except (OSError, ValueError) as err:
            return LoadedFilmstrip((), (self._damaged(self.index_file, "filmstrip", err),))
        try:
            entries = _entries(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            return LoadedFilmstrip((), (self._damaged(self.index_file, "filmstrip", err),))
        pictures, notices = [], []
        for name, pinned, params in entries:
            path = self.directory / name
            try:
                image = files.read_png(path)
            except SketchError as err:
                if path.exists():
                    notices.append(self._damaged(path, "filmstrip picture", err))
                else:
                    notices.append(f"A filmstrip picture ({name}) is missing; left out.")
                continue
            pictures.append(StoredPicture(name, image, params, pinned))
            self._sizes[name] = path.stat().st_size
        return LoadedFilmstrip(tuple(pictures), tuple(notices))

    @staticmethod
    def _damaged(path: Path, what: str, err: object) -> str:
        reason = (str(err).splitlines() or ["damaged"])[0]
        kept = files.keep_aside(path)
        where = f"it was kept as {kept}" if kept else "it could not be moved aside"
        return f"The {what} could not be read ({reason}); {where}."


def within_budget(
    pictures: tuple[StoredPicture, ...], sizes: dict[str, int], max_bytes: int
) -> tuple[StoredPicture, ...]:
    """``pictures`` without the oldest unpinned ones, then the oldest pinned ones, until
    their files fit in ``max_bytes``."""
    total = sum(sizes[p.name] for p in pictures)
    oldest_first = sorted(reversed(pictures), key=lambda p: p.pinned)  # stable: age kept
    left_out = set()
    for picture in oldest_first:
        if total <= max_bytes:
            break
        left_out.add(picture.name)
        total -= sizes[picture.name]
    return tuple(p for p in pictures if p.name not in left_out)


def _entries(loaded: Any) -> list[tuple[str, bool, GenerationParams]]:
    if not isinstance(loaded, dict) or loaded.get("format") != FORMAT:
        raise ValueError("not a filmstrip this version reads")
    found = []
    for entry in loaded["entries"]:
        name = entry["file"]
        if not isinstance(name, str) or Path(name).name != name or not name.endswith(".png"):
            raise ValueError(f"a picture's name is not a file name: {name!r}")
        if not isinstance(entry["pinned"], bool):
            raise ValueError("a pin is not true or false")
        found.append((name, entry["pinned"], _params(entry["params"])))
    return found


def _params(raw: dict[str, Any]) -> GenerationParams:
    """The parameters back, each checked by the settings table's rule (or its type)."""
    values = {name: SETTINGS[name].parse_stored(raw[name]) for name in _CHECKED}
    strength = raw.get("strength")
    values["strength"] = None if strength is None else SETTINGS["strength"].parse_stored(strength)
    for name in ("model", "sampler", "licence"):
        if not isinstance(raw.get(name, ""), str):
            raise ValueError(f"{name} is not text")
        values[name] = raw.get(name, "")
    loras = []
    for name, weight, short_hash in raw.get("loras", ()):
        if not (isinstance(name, str) and isinstance(short_hash, str)):
            raise ValueError("a LoRA style is not (name, weight, hash)")
        loras.append((name, float(weight), short_hash))
    values["loras"] = tuple(loras)
    if raw.get("hires_upscale") is not None:  # a finished picture: its second pass
        values["hires_upscale"] = SETTINGS["finish_scale"].parse_stored(raw["hires_upscale"])
        values["hires_steps"] = SETTINGS["finish_steps"].parse_stored(raw["hires_steps"])
        values["denoising_strength"] = SETTINGS["finish_strength"].parse_stored(
            raw["denoising_strength"]
        )
    return GenerationParams(**values)


class FilmstripKeeper(QObject):
    """Writes the history whenever it changes (new picture, pin), off the UI thread, and
    gives it back at start. ``directory`` None (no data folder) keeps nothing."""

    notice = Signal(str)  # a failed write (once per run of failures)

    def __init__(
        self,
        history: History,
        directory: Path | None,
        max_bytes: int = MAX_FILMSTRIP_BYTES,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.history = history
        self.store = FilmstripStore(directory, max_bytes) if directory is not None else None
        self.writer = BackgroundWriter("Saving the filmstrip", self._write, self)
        self.writer.failed.connect(self.notice)
        self._names: dict[int, str] = {}  # entry id -> its file (UI thread)
        self._last: tuple = ()  # what was last handed to the writer: (name, pinned) pairs
        history.changed.connect(self.save_soon_now)

    @property
    def busy(self) -> bool:
        return self.writer.busy

    def wait(self) -> None:
        self.writer.wait()

    def restore(self) -> tuple[str, ...]:
        """Put the kept pictures back in the history; returns the notices."""
        if self.store is None:
            return ()
        loaded = self.store.load()
        entries = []
        for picture in loaded.pictures:
            # A picture from an earlier run: no request of this run's, no latents (it is
            # exported as it is shown), nothing that made it kept in memory.
            result = FrameResult(picture.image, picture.params, FrameTimings())
            entry = HistoryEntry(result, picture.pinned)
            self._names[entry.entry_id] = picture.name
            entries.append(entry)
        self._last = tuple((p.name, p.pinned) for p in loaded.pictures)
        self.history.restore(entries)
        return loaded.notices

    def save_soon_now(self) -> None:
        if self.store is None:
            return
        pictures = tuple(
            StoredPicture(self._name(e), e.result.image, e.result.params, e.pinned)
            for e in self.history.entries
        )
        live = {e.entry_id for e in self.history.entries}
        self._names = {k: v for k, v in self._names.items() if k in live}
        shape = tuple((p.name, p.pinned) for p in pictures)
        if shape == self._last:
            return  # a restore, or a change that changed nothing kept
        self._last = shape
        with self.writer.queue() as waiting:
            waiting.clear()  # latest wins: the newest strip holds every picture still kept
            waiting.append(pictures)

    def _name(self, entry: HistoryEntry) -> str:
        if entry.entry_id not in self._names:
            self._names[entry.entry_id] = f"{uuid.uuid4().hex[:16]}.png"
        return self._names[entry.entry_id]

    def _write(self, pictures: tuple[StoredPicture, ...]) -> None:
        assert self.store is not None  # nothing is queued without one
        self.store.save(pictures)

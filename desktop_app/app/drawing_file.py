"""Exports that open again to keep working, and pictures from other tools opened as a
reference.

An export is an ordinary PNG: the picture, its ``parameters`` text (which other tools read),
and also what made it. A ``live-canvas`` text chunk holds the settings (and the selection) as
JSON; three private
ancillary chunks hold the strokes, the reference and the reference's line art, as PNGs of
their own. Other readers skip private chunks. Opening a file reads the header sizes first,
checks every chunk's length against the file and its CRC before using it, decodes the
embedded images with the same bounds as any sketch, and checks every setting by the
settings table's rules. Anything wrong refuses the whole file in one line, and nothing
changes.

A composed picture (region frames kept part of it, ``live-canvas-composed`` says so) cannot be
rendered again from its sketch: opening it brings the picture itself back, as the picture
shown and kept by the next region frames.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.app.drawing import Drawing
from desktop_app.app.files import read_png
from desktop_app.app.selection import Selection
from desktop_app.core.errors import InvalidRequestError, LiveCanvasError, SketchError
from desktop_app.core.metadata import COMPOSED_KEY
from desktop_app.core.settings_table import SETTINGS
from desktop_app.core.types import GenerationParams, lora_name
from desktop_app.models.styles import resolve_style, styles_dir

DRAWING_KEY = "live-canvas"
FORMAT = 1
STROKES, REFERENCE, LINES = b"lcSk", b"lcRf", b"lcRl"  # ancillary, private, safe to copy
MAX_CHUNK_BYTES = 64 * 1024 * 1024
RESTORED = (
    "prompt",
    "mode",
    "control_scale",
    "strength",
    "seed",
    "steps",
    "size",
    "reference_opacity",
    "reference_visible",
    "reference_lines",
    "loras",
    "prompt_style",
)
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, eq=False)
class OpenedFile:
    """A Live Canvas export (``drawing`` and ``settings``, with the ``model`` that made it),
    or another picture (``image``, with the ``prompt`` its ``parameters`` carry, if any)."""

    drawing: Drawing | None = None
    settings: dict[str, Any] | None = None
    model: str | None = None
    image: np.ndarray | None = None
    prompt: str | None = None
    notes: tuple[str, ...] = ()  # what could not come back (a LoRA style not here)
    # A composed export's picture, and what made it: the picture to start from again.
    picture: np.ndarray | None = None
    picture_params: GenerationParams | None = None


def drawing_chunks(
    drawing: Drawing, params: GenerationParams
) -> tuple[dict[str, str], list[tuple[bytes, bytes]]]:
    """The text and the private chunks that let an export be opened again."""
    settings = {
        **settings_of(params),
        "reference_opacity": drawing.opacity,
        "reference_visible": drawing.visible,
        "reference_lines": drawing.use_lines,
    }
    chunks = [(STROKES, _png(drawing.strokes))]
    if drawing.reference is not None:
        chunks.append((REFERENCE, _png(drawing.reference)))
        if drawing.reference_lines is not None:
            chunks.append((LINES, _png(drawing.reference_lines)))
    text: dict[str, Any] = {"format": FORMAT, "model": params.model, "settings": settings}
    if drawing.selection is not None:
        text["selection"] = drawing.selection.to_stored()
    return {DRAWING_KEY: json.dumps(text, ensure_ascii=False)}, chunks


def open_file(path: str | Path) -> OpenedFile:
    """What ``path`` holds; SketchError (one line, naming the file) when it is not usable."""
    path = Path(path)
    image = read_png(path)  # bounded: the header's size is checked before any pixel
    text = _text_chunks(path)
    if DRAWING_KEY not in text:
        return OpenedFile(image=image, prompt=_prompt_of(path, text))
    try:
        opened = _drawing_file(path, text[DRAWING_KEY])
    except (InvalidRequestError, ValueError, TypeError, KeyError) as err:
        raise SketchError(f"{path.name} cannot be opened: {err}") from None
    if text.get(COMPOSED_KEY) is None or opened.settings is None:
        return opened
    return replace(opened, picture=image, picture_params=_params(opened.settings, opened.model))


def _drawing_file(path: Path, raw: str) -> OpenedFile:
    header = json.loads(raw)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError("its live-canvas chunk is not one this version reads")
    settings = header.get("settings")
    if not isinstance(settings, dict) or not set(settings) <= set(RESTORED):
        raise ValueError("its settings are not a table of known settings")
    if "loras" in settings:
        settings = {**settings, "loras": SETTINGS["loras"].parse_stored(settings["loras"])}
    checked = {name: SETTINGS[name].check(value) for name, value in settings.items()}
    notes: tuple[str, ...] = ()
    if "loras" in checked:
        checked["loras"], notes = styles_here(checked["loras"])
    model = header.get("model")
    if model is not None:
        model = SETTINGS["preset"].check(model)
    chunks = private_chunks(path, {STROKES, REFERENCE, LINES})
    if STROKES not in chunks:
        raise ValueError("its strokes are missing")
    strokes = read_png(path.name + " (strokes)", chunks[STROKES])
    reference = lines = None
    if REFERENCE in chunks:
        reference = read_png(path.name + " (reference)", chunks[REFERENCE])
        if LINES in chunks:
            lines = read_png(path.name + " (reference lines)", chunks[LINES])
    for other in (reference, lines):
        if other is not None and other.shape != strokes.shape:
            raise ValueError("its reference is not the size of its strokes")
    selection = Selection.from_stored(header.get("selection"))
    drawing = Drawing(
        strokes,
        reference,
        lines,
        checked.get("reference_opacity", SETTINGS["reference_opacity"].default),
        checked.get("reference_visible", True),
        checked.get("reference_lines", True),
        selection,
    )
    return OpenedFile(drawing=drawing, settings=checked, model=model, notes=notes)


def _params(settings: dict[str, Any], model: str | None) -> GenerationParams:
    """What made an opened composed picture, as far as its file says."""
    value = {name: settings.get(name, SETTINGS[name].default) for name in RESTORED}
    return GenerationParams(
        prompt=value["prompt"],
        seed=value["seed"],
        steps=value["steps"],
        size=value["size"],
        model=model or "",
        mode=value["mode"],
        control_scale=value["control_scale"],
        strength=value["strength"] if value["mode"] == "colour" else None,
        loras=tuple((lora_name(path), weight, "") for path, weight in value["loras"]),
        composed=True,
    )


def settings_of(params: GenerationParams) -> dict[str, Any]:
    """The settings that made a picture, as the state holds them. The prompt is the final one
    (a prompt style's words and LoRAs included), so no style goes on top of it again; its LoRA
    styles are by name (``styles_here`` finds their files)."""
    settings: dict[str, Any] = {
        "prompt": params.prompt,
        "mode": params.mode,
        "control_scale": params.control_scale,
        "seed": params.seed,
        "steps": params.steps,
        "size": params.size,
        "loras": tuple((name, weight) for name, weight, _hash in params.loras),
        "prompt_style": "",
    }
    if params.strength is not None:
        settings["strength"] = params.strength
    return settings


def styles_here(loras: tuple, known: tuple[str, ...] = ()) -> tuple[tuple, tuple[str, ...]]:
    """The files of LoRA styles given by name (among the ``known`` files first, then in the
    styles folder), and a line for each one not found."""
    by_name = {lora_name(path): path for path in known}
    found, notes = [], []
    for name, weight in loras:
        if name in by_name:
            found.append((by_name[name], weight))
            continue
        try:
            found.append((str(resolve_style(name)), weight))
        except LiveCanvasError:
            notes.append(f"LoRA style {name!r} is not in {styles_dir()}: opened without it")
    return tuple(found), tuple(notes)


def private_chunks(path: Path, wanted: set[bytes]) -> dict[bytes, bytes]:
    """The data of the ``wanted`` chunks of the PNG at ``path``: every chunk's length is
    checked against what is left of the file, and each wanted one against its CRC."""
    found: dict[bytes, bytes] = {}
    with open(path, "rb") as f:
        size = f.seek(0, io.SEEK_END)
        f.seek(0)
        if f.read(8) != _SIGNATURE:
            raise ValueError("it is not a PNG")
        while True:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError("it is cut short")
            length, kind = struct.unpack(">I4s", head)
            if length > MAX_CHUNK_BYTES or f.tell() + length + 4 > size:
                raise ValueError(f"a chunk claims {length:,} bytes the file does not hold")
            if kind in wanted:
                data = f.read(length)
                (crc,) = struct.unpack(">I", f.read(4))
                if zlib.crc32(kind + data) != crc:
                    raise ValueError(f"its {kind.decode('ascii', 'replace')} chunk is damaged")
                found[kind] = data
            else:
                f.seek(length + 4, io.SEEK_CUR)
            if kind == b"IEND":
                return found


def _text_chunks(path: Path) -> dict[str, str]:
    """A PNG's text chunks (none for other formats); Pillow bounds what it decompresses."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return dict(getattr(image, "text", {}) or {})
    except Exception as err:  # noqa: BLE001 - a text bomb, a broken chunk: not openable
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise SketchError(
            f"{path.name} cannot be opened: its text chunks are unreadable ({first})"
        ) from None


def _prompt_of(path: Path, text: dict[str, str]) -> str | None:
    """The prompt another tool wrote (A1111, ComfyUI, ...), read by sd-parsers."""
    if not text:
        return None
    from sd_parsers import ParserManager

    try:
        info = ParserManager().parse(path)
    except Exception:  # noqa: BLE001 - metadata that cannot be parsed is simply not used
        return None
    if info is None:
        return None
    for sampler in info.samplers:
        for prompt in sampler.prompts:
            if prompt.value:
                return SETTINGS["prompt"].check(prompt.value[: SETTINGS["prompt"].max_chars])
    return None


def _png(array: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(out, "PNG", compress_level=6)
    return out.getvalue()

"""Where LoRA style files live, and from a name or a path to a file.

A style is one ``.safetensors`` LoRA file (kohya/A1111 or diffusers/PEFT format). The user
keeps them in the styles folder (per-user data, the same place for the window, ``render``
and ``serve``), or names any file by its path. A name alone (``watercolour``, as A1111
writes ``<lora:watercolour:0.8>``) is looked up in the styles folder.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from desktop_app.core.errors import InvalidRequestError, ModelLoadError
from desktop_app.core.settings_table import SETTINGS
from desktop_app.core.types import lora_name

SUFFIX = ".safetensors"
STYLES_DIR_ENV = "LIVE_CANVAS_STYLES_DIR"
_HEADER_LIMIT = 100 * 1024 * 1024  # a safetensors header this long is a broken file


def styles_dir() -> Path:
    """The per-user styles folder (not created here): ``LIVE_CANVAS_STYLES_DIR`` if set."""
    if os.environ.get(STYLES_DIR_ENV):
        return Path(os.environ[STYLES_DIR_ENV]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "Live Canvas" / "styles"


def list_styles(folder: Path | None = None) -> list[Path]:
    """The style files in the styles folder, by name."""
    folder = folder or styles_dir()
    try:
        return sorted(
            (p for p in folder.iterdir() if p.suffix.lower() == SUFFIX and p.is_file()),
            key=lambda p: p.name.lower(),
        )
    except OSError:  # no folder yet, or unreadable: no styles
        return []


def resolve_style(source: str, folder: Path | None = None) -> Path:
    """The file ``source`` names: a path to a file, or a name in the styles folder."""
    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        raise ModelLoadError(f"LoRA {source} is a folder: give its {SUFFIX} file")
    if "/" in source or "\\" in source or source.startswith("~"):
        raise ModelLoadError(f"LoRA file not found: {source}")
    folder = folder or styles_dir()
    name = lora_name(source)
    candidate = folder / (name + SUFFIX)
    if candidate.is_file():
        return candidate
    raise ModelLoadError(
        f"no LoRA style named {name!r}: put {name}{SUFFIX} in {folder} or give its path"
    )


def parse_lora_argument(text: str) -> tuple[str, float]:
    """``FILE[:WEIGHT]`` from the command line (a Windows drive's colon is not a weight)."""
    source, weight = text, 1.0
    head, sep, tail = text.rpartition(":")
    if sep and head and tail and not tail.startswith(("\\", "/")):
        try:
            weight = float(tail)
        except ValueError:
            message = f"--lora {text}: the weight after ':' must be a number"
            raise InvalidRequestError(message) from None
        source = head
    SETTINGS["loras"].check(((source, weight),))
    return source, weight


def short_hash(path: Path) -> str:
    """A1111's hash of a LoRA file (its "Lora hashes"): SHA-256 of the tensors after the
    safetensors header, first 12 hex digits, so civitai and A1111 recognise the file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        header_length = int.from_bytes(f.read(8), "little")
        if header_length > _HEADER_LIMIT:
            raise ModelLoadError(f"LoRA {path.name} is not a readable .safetensors file")
        f.seek(8 + header_length)
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]

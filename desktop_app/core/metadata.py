"""PNG output: the generation parameters in the ``parameters`` text chunk that Stable Diffusion
tools (A1111, ComfyUI importers, civitai) read, written atomically so that a failed or
interrupted save never leaves a half-written file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from desktop_app.core.errors import OutputError
from desktop_app.core.types import GenerationParams

# A composed picture's own text chunk: region frames repainted part of it and kept the rest,
# so its sketch and settings alone do not make it again.
COMPOSED_KEY = "live-canvas-composed"
COMPOSED_TEXT = "only part of this picture was repainted, the rest was kept"
_UMASK = os.umask(0)  # reading the umask means setting it; put it straight back
os.umask(_UMASK)


def parameters_text(params: GenerationParams) -> str:
    """A1111's layout: the prompt, then one line of ``Key: value`` pairs."""
    fields = [
        ("Steps", params.steps),
        ("Sampler", params.sampler),
        ("CFG scale", 0),
        ("Seed", params.seed),
        ("Size", f"{params.size}x{params.size}"),
        ("Model", params.model),
        ("ControlNet scale", f"{params.control_scale:g}"),
    ]
    if params.strength is not None and params.hires_upscale is None:
        fields.append(("Denoising strength", f"{params.strength:g}"))
    fields.append(("Mode", params.mode))
    if params.hires_upscale is not None:
        # A finished picture: A1111's hires fix fields (its "Denoising strength" is the second
        # pass's; the first pass's strength, a colour frame's, is not in A1111's words).
        fields.append(("Hires upscale", f"{params.hires_upscale:g}"))
        fields.append(("Hires steps", params.hires_steps))
        fields.append(("Denoising strength", f"{params.denoising_strength:g}"))
    prompt = params.prompt
    if params.loras:
        # A1111's own form: the styles as tags in the prompt, their files' hashes in a field
        # (quoted: the value holds ", " and ": ").
        prompt += "".join(f" <lora:{name}:{weight:g}>" for name, weight, _ in params.loras)
        hashes = ", ".join(f"{_field_safe(name)}: {h}" for name, _, h in params.loras)
        fields.append(("Lora hashes", f'"{hashes}"'))
    fields.append(("Software", "Live Canvas"))
    return prompt + "\n" + ", ".join(f"{k}: {v}" for k, v in fields)


def _field_safe(name: str) -> str:
    return name.replace(":", "").replace(",", "").replace('"', "")


def check_writable(path: str | Path) -> Path:
    """Fail before any model work when the output cannot possibly be written."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    if not parent.exists():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {parent} is read-only")
    return path


# Keyed by OSError.errno, which is None for an error raised without one.
_REASONS: dict[int | None, str] = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
    errno.ENOSPC: "the disk is full",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "a part of the path is not a folder",
}


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary file beside ``path`` for the block to write; when the block ends normally
    it is flushed to disk and renamed over ``path``, otherwise removed. An OS error becomes
    OutputError("cannot write PATH: why")."""
    path = check_writable(path)
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        yield Path(tmp_name)
        with open(tmp_name, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); a saved picture gets the usual permissions.
        os.chmod(tmp_name, 0o666 & ~_UMASK)
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as err:
        reason = _REASONS.get(err.errno, err.strerror or str(err))
        raise OutputError(f"cannot write {path}: {reason}") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def write_atomically(path: str | Path, write) -> Path:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it over
    ``path``; on any failure the temporary file is removed and OutputError raised."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
    return path


def png_info(
    params: GenerationParams | None = None,
    extra_text: dict[str, str] | None = None,
    chunks: list[tuple[bytes, bytes]] | None = None,
) -> PngInfo:
    """The text chunks of an exported PNG (a local export's and a server's are the same),
    and any private ``chunks`` (type, data) other tools pass over."""
    info = PngInfo()
    if params is not None:
        # Pillow stores non-Latin-1 text as an iTXt chunk (UTF-8), which the same tools read.
        info.add_text("parameters", parameters_text(params))
        if params.licence:
            # Its own chunk: A1111's parameters line is split at ", " and ": ".
            info.add_text("licence", params.licence)
        if params.composed:
            info.add_text(COMPOSED_KEY, COMPOSED_TEXT)
    for key, value in (extra_text or {}).items():
        info.add_text(key, value, zip=len(value) > 1024)
    for kind, data in chunks or ():
        info.add(kind, data)
    return info


def save_png(
    path: str | Path,
    image: np.ndarray,
    params: GenerationParams | None = None,
    extra_text: dict[str, str] | None = None,
    chunks: list[tuple[bytes, bytes]] | None = None,
) -> Path:
    info = png_info(params, extra_text, chunks)
    pil = Image.fromarray(np.ascontiguousarray(image))
    return write_atomically(path, lambda f: pil.save(f, format="PNG", pnginfo=info))


def read_parameters(path: str | Path) -> str | None:
    with Image.open(path) as img:
        return img.info.get("parameters")

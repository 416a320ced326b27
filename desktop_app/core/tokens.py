"""The shared secret between ``live-canvas serve`` and its clients: a random token in a file
only its owner can read (0600), sent as ``Authorization: Bearer TOKEN``.

The server makes one on its first start when it listens beyond this machine and none exists,
and prints it once; clients read the same file (copied to them) with ``--token-file``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import sys
import tempfile
from pathlib import Path

from desktop_app.core.errors import InvalidRequestError, OutputError

_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{16,512}")  # what a Bearer header can carry


def default_token_path() -> Path:
    """Where ``serve`` keeps its token when ``--token-file`` is not given."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "live-canvas" / "serve-token"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def read_small_text(
    path: Path, what: str, max_bytes: int, too_large: str, not_text: str, encoding: str
) -> str:
    """``path``'s text, or InvalidRequestError naming ``what`` it is and what is wrong with
    it in one line (the token file's and the server's tokens file's reader)."""
    try:
        if path.stat().st_size > max_bytes:
            raise InvalidRequestError(f"{what} {path} {too_large}")
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise InvalidRequestError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidRequestError(f"{what} {path} is a folder") from None
    except PermissionError:
        raise InvalidRequestError(f"{what} {path} cannot be read: permission denied") from None
    except UnicodeDecodeError:
        raise InvalidRequestError(f"{what} {path} {not_text}") from None
    except OSError as err:
        raise InvalidRequestError(f"{what} {path} cannot be read: {err.strerror}") from None


def read_token(path: str | Path) -> str:
    """The token in ``path``; InvalidRequestError saying what is wrong with the file."""
    path = Path(path).expanduser()
    text = read_small_text(
        path,
        "token file",
        4096,
        too_large="is too large to hold a token",
        not_text="does not hold a token (not text)",
        encoding="ascii",
    ).strip()
    if not _TOKEN.fullmatch(text):
        raise InvalidRequestError(
            f"token file {path} does not hold a token (16 to 512 letters, digits or ._~+/=-)"
        )
    return text


def others_can_read(path: str | Path) -> bool:
    if sys.platform == "win32":
        return False  # ACLs, not mode bits
    return bool(Path(path).expanduser().stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def ensure_token(path: str | Path) -> tuple[str, bool]:
    """The token in ``path``, made (0600, its folder 0700) when the file does not exist yet;
    the flag says whether it was just made."""
    path = Path(path).expanduser()
    if path.exists():
        return read_token(path), False
    token = new_token()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".token-", dir=path.parent)  # 0600 from the start
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(token + "\n")
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except OSError as err:
        raise OutputError(f"cannot write token file {path}: {err.strerror or err}") from None
    return token, True

"""Per-artist tokens: ``serve --tokens-file F``, one artist a line (``NAME TOKEN``; blank
lines and ``#`` comments allowed), so each artist has a key of their own, their name shows in
the server's log and metrics, and one artist's key can be withdrawn alone.

Each replica reads the file itself (the same path on every node of a cluster, as for the
single token file) and keeps only each token's SHA-256; it looks at the file again at most
every ``RECHECK_S`` and re-reads it when it changed, so a token removed from the file is
refused from its next request within a couple of seconds. A file that can no longer be
read, or holds no token any more, lets nobody in until it is fixed (fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.tokens import _TOKEN, read_small_text
from desktop_app.core.wire import WireError

RECHECK_S = 1.0  # a removed token works for at most this long (plus a request in flight)
MAX_FILE_BYTES = 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_log = logging.getLogger("live_canvas.serve")


@dataclass(frozen=True)
class TokenList:
    """The artists of a tokens file: their names by their token's SHA-256, and a warning for
    each line skipped (naming the line, never its token)."""

    names: dict[str, str]
    warnings: tuple[str, ...] = ()


def read_tokens_file(path: str | Path) -> TokenList:
    """The artists in ``path``; InvalidRequestError (one line) for a file that is missing,
    unreadable or holds no token."""
    path = Path(path).expanduser()
    text = read_small_text(
        path,
        "tokens file",
        MAX_FILE_BYTES,
        too_large="is too large (over 1 MiB)",
        not_text="is not text",
        encoding="utf-8",
    )
    tokens = parse_tokens(text, str(path))
    if not tokens.names:
        raise InvalidRequestError(
            f"tokens file {path} holds no tokens (one artist a line: NAME TOKEN)"
        )
    return tokens


def parse_tokens(text: str, where: str) -> TokenList:
    names: dict[str, str] = {}
    seen: set[str] = set()
    warnings = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        problem = None
        if len(parts) != 2 or not _NAME.fullmatch(parts[0]) or not _TOKEN.fullmatch(parts[1]):
            problem = (
                "expected NAME TOKEN (a name of letters, digits or ._@-, a space, then a token "
                "of 16 to 512 letters, digits or ._~+/=-)"
            )
        elif parts[0] in seen:
            problem = f"the name {parts[0]!r} is given again"
        elif digest(parts[1]) in names:
            problem = f"{parts[0]!r} has the same token as {names[digest(parts[1])]!r}"
        if problem:
            warnings.append(f"tokens file {where} line {number}: {problem}; line skipped")
            continue
        seen.add(parts[0])
        names[digest(parts[1])] = parts[0]
    return TokenList(names, tuple(warnings))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ArtistTokens:
    """Who may ask, by the tokens file, re-read when it changes; safe from any thread."""

    def __init__(
        self,
        path: str | Path,
        recheck_s: float = RECHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path).expanduser()
        self._recheck_s, self._clock = recheck_s, clock
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}
        self._stamp: tuple | None = None
        self._checked = float("-inf")
        self._met: set[str] = set()
        self._refresh(force=True)

    def name_of(self, authorization: str | None) -> str:
        """The artist whose token ``authorization`` carries; WireError(401) otherwise."""
        self._refresh()
        if not authorization:
            raise WireError(
                401, "this server needs your token: give the client --token-file with it"
            )
        scheme, _, given = authorization.partition(" ")
        found = digest(given.strip())
        names = self._names
        name = next((n for d, n in names.items() if hmac.compare_digest(d, found)), None)
        if scheme.lower() != "bearer" or name is None:
            raise WireError(
                401, "the token is not one this server knows: check the client's --token-file"
            )
        if name not in self._met:
            self._met.add(name)
            _log.info("artist %s: first frame on this replica", name)
        return name

    def _refresh(self, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._checked < self._recheck_s:
            return
        with self._lock:
            self._checked = now
            try:
                info = os.stat(self.path)
                stamp: tuple | None = (info.st_mtime_ns, info.st_size, info.st_ino)
            except OSError:
                stamp = None
            if stamp == self._stamp and stamp is not None:
                return
            self._stamp = stamp
            try:
                tokens = read_tokens_file(self.path)
            except InvalidRequestError as err:
                _log.warning("%s: nobody is let in until it is fixed", err)
                self._names = {}
                return
            for warning in tokens.warnings:
                _log.warning("%s", warning)
            self._names = tokens.names
            _log.info("tokens file %s: %d artists", self.path, len(self._names))

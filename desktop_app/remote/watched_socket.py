"""A connected socket whose every send and receive can be given up on: it waits in steps of
20 ms, asks the caller's ``should_cancel`` between them, and gives up after ``silence_s``
without a byte moving either way.

``http.client`` reads and writes through it (``sendall`` and ``makefile`` are all it uses),
so the request's body, the answer's head and every chunk of a streamed answer are bounded by
the same two things: the caller's cancel (closing the window) and the server's silence (a
server that stopped reading, or stopped answering). httpx2's timeouts bound each read and
write the same way, but a read it is blocked in cannot be given up on from ``should_cancel``.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.core.errors import RenderCancelled

POLL_S = 0.02  # how often should_cancel is asked while a send or receive waits
_SEND_BYTES = 64 * 1024  # one send at a time: the silence is counted from the last one


class ServerSilent(Exception):  # noqa: N818 - what happened, not an error class of ours
    """No byte moved for ``silence_s``; ``sending`` says which way."""

    def __init__(self, silence_s: float, sending: bool, heard: bool) -> None:
        super().__init__(f"nothing moved for {silence_s:g} s")
        self.silence_s = silence_s
        self.sending = sending
        self.heard = heard  # some of the answer had come before it went quiet


def _never() -> bool:
    return False


@dataclass(frozen=True)
class Watch:
    """What bounds one exchange."""

    should_cancel: Callable[[], bool] = _never
    silence_s: float = 12.0


class WatchedSocket:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        sock.settimeout(POLL_S)  # a wait returns every POLL_S to ask about cancelling
        self.watch = Watch()
        self.heard = False  # bytes of the current answer have arrived
        self._readers = 0  # answers being read (``makefile``): a close waits for them
        self._closing = False

    def begin(self, watch: Watch) -> None:
        """A new exchange: its bounds, and nothing heard of its answer yet."""
        self.watch = watch
        self.heard = False

    def sendall(self, data) -> None:
        view = memoryview(data).cast("B")
        quiet_since = time.monotonic()
        while view:
            try:
                sent = self._sock.send(view[:_SEND_BYTES])
            except TimeoutError:
                self._check(quiet_since, sending=True)
                continue
            view = view[sent:]
            quiet_since = time.monotonic()

    def recv_into(self, buffer) -> int:
        quiet_since = time.monotonic()
        while True:
            try:
                count = self._sock.recv_into(buffer)
            except TimeoutError:
                self._check(quiet_since, sending=False)
                continue
            self.heard = self.heard or count > 0
            return count

    def makefile(self, mode: str = "rb", *_args, **_kwargs) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError("a watched socket is read as bytes")
        self._readers += 1
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        """As a socket's: the connection ends when the answer being read is closed too
        (``http.client`` closes the connection of an answer that ends it before reading it)."""
        self._closing = True
        if self._readers == 0:
            self._sock.close()

    def abort(self) -> None:
        """Closed now, whatever is reading: the server sees the client go."""
        self._closing = True
        self._sock.close()

    def _reader_closed(self) -> None:
        self._readers -= 1
        if self._closing and self._readers == 0:
            self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def _check(self, quiet_since: float, sending: bool) -> None:
        watch = self.watch
        if watch.should_cancel():
            raise RenderCancelled("the frame was cancelled")
        if time.monotonic() - quiet_since > watch.silence_s:
            raise ServerSilent(watch.silence_s, sending, self.heard)


class _Reader(io.RawIOBase):
    def __init__(self, sock: WatchedSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock._reader_closed()
        super().close()

"""One kept-alive HTTP/1.1 connection to a server (the standard library's ``http.client``),
from one thread, that a caller can give up on at any moment.

A frame is one request; while it waits for the answer the caller's ``should_cancel`` is
polled (the socket is watched with ``select``, so an answer is read the moment it arrives).
Giving up closes the connection: the server's HTTP proxy sees the client go and cancels the
frame in its replica. A server that closed an idle kept-alive connection is simply dialled
again, once; every other failure becomes one line that says what happened.
"""

from __future__ import annotations

import errno
import http.client
import selectors
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.core.errors import RenderCancelled, ServerRefusedError, ServerUnavailableError
from desktop_app.core.wire import CONTENT_TYPE
from desktop_app.remote.address import ServerAddress

CONNECT_TIMEOUT_S = 3.0
ANSWER_TIMEOUT_S = 120.0  # a frame of a full-size model on a CPU server takes tens of seconds
_POLL_S = 0.02  # how often should_cancel is asked while waiting
_DROPPED = (
    http.client.RemoteDisconnected,
    http.client.IncompleteRead,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    round_trip_ms: float  # from the first byte sent to the last byte read
    bytes_sent: int


def _never() -> bool:
    return False


def _wait(sock, event: int, should_cancel: Callable[[], bool], deadline: float) -> None:
    """Until ``sock`` is ready for ``event``, asking ``should_cancel`` every few ms; a ready
    socket returns at once. RenderCancelled or TimeoutError otherwise."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return  # bytes already decrypted: the socket itself may never be readable again
    with selectors.DefaultSelector() as selector:
        selector.register(sock, event)
        while not selector.select(_POLL_S):
            if should_cancel():
                raise RenderCancelled("the frame was cancelled")
            if time.perf_counter() > deadline:
                raise TimeoutError(errno.ETIMEDOUT, "no answer")


class ServerConnection:
    def __init__(
        self,
        address: ServerAddress,
        token: str | None = None,
        ca_file: str | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self._headers = {"Content-Type": CONTENT_TYPE}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._tls: ssl.SSLContext | None = None
        if address.scheme == "https":
            try:
                self._tls = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as err:
                raise ServerRefusedError(f"cannot use CA file {ca_file}: {err}") from None
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        should_cancel: Callable[[], bool] | None = None,
        answer_timeout_s: float = ANSWER_TIMEOUT_S,
    ) -> Answer:
        should_cancel = should_cancel or _never
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._conn or self._open(should_cancel)
            self._conn = conn
            try:
                return self._exchange(conn, method, path, body, should_cancel, answer_timeout_s)
            except _DROPPED as err:
                self.close()
                if reused and attempt == 1:
                    continue  # the server had closed this idle connection: dial again, once
                raise self._dropped(err) from None
            except RenderCancelled:
                self.close()
                raise
            except TimeoutError:
                self.close()
                raise ServerUnavailableError(
                    f"the server at {self.address.display} did not answer within "
                    f"{answer_timeout_s:.0f} s"
                ) from None
            except ssl.SSLError as err:
                self.close()
                raise ServerUnavailableError(
                    f"the TLS connection to {self.address.display} failed: {err.reason or err}"
                ) from None
            except OSError as err:
                self.close()
                raise self._unreachable(err) from None
        raise AssertionError("unreachable")  # the loop returns or raises

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        body: bytes,
        should_cancel: Callable[[], bool],
        answer_timeout_s: float,
    ) -> Answer:
        start = time.perf_counter()
        conn.request(method, path, body=body or None, headers=self._headers)
        deadline = start + answer_timeout_s
        _wait(conn.sock, selectors.EVENT_READ, should_cancel, deadline)
        # The answer has begun; a server that stalls inside it still meets the deadline.
        conn.sock.settimeout(max(1.0, deadline - time.perf_counter()))
        response = conn.getresponse()
        data = response.read()
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        if response.will_close:
            self.close()
        return Answer(response.status, data, elapsed_ms, len(body))

    def _open(self, should_cancel: Callable[[], bool]) -> http.client.HTTPConnection:
        """Dial without blocking past ``should_cancel`` or the connect timeout."""
        host, port = self.address.host, self.address.port
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            raise ServerUnavailableError(
                f"cannot reach the server at {self.address.display}: unknown host {host!r}"
            ) from None
        error: OSError = OSError(errno.EHOSTUNREACH, "no address to connect to")
        for family, kind, proto, _, sockaddr in infos:
            try:
                sock = self._dial(family, kind, proto, sockaddr, should_cancel)
            except OSError as err:
                error = err
                continue
            return self._wrap(sock)
        raise self._unreachable(error)

    def _dial(self, family, kind, proto, sockaddr, should_cancel) -> socket.socket:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.connect_ex(sockaddr)
            deadline = time.perf_counter() + self.connect_timeout_s
            _wait(sock, selectors.EVENT_WRITE, should_cancel, deadline)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, errno.errorcode.get(code, str(code)))
            sock.setblocking(True)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except BaseException:
            sock.close()
            raise

    def _wrap(self, sock: socket.socket) -> http.client.HTTPConnection:
        host, port = self.address.host, self.address.port
        if self._tls is None:
            conn = http.client.HTTPConnection(host, port)
            conn.sock = sock
            return conn
        sock.settimeout(self.connect_timeout_s)
        try:
            wrapped = self._tls.wrap_socket(sock, server_hostname=host)
        except ssl.SSLCertVerificationError as err:
            sock.close()
            raise ServerRefusedError(
                f"the server at {self.address.display} has a TLS certificate this computer "
                f"does not trust ({err.verify_message}): give its certificate with --server-ca"
            ) from None
        except (ssl.SSLError, OSError) as err:
            sock.close()
            raise ServerUnavailableError(
                f"no TLS connection to {self.address.display} ({err}); if the server does not "
                "use TLS, its address starts with http://"
            ) from None
        wrapped.settimeout(None)
        conn = http.client.HTTPSConnection(host, port, context=self._tls)
        conn.sock = wrapped
        return conn

    def _unreachable(self, err: OSError) -> ServerUnavailableError:
        if isinstance(err, TimeoutError):
            reason = f"no answer within {self.connect_timeout_s:.0f} s"
        elif err.errno == errno.ECONNREFUSED:
            reason = "connection refused (is live-canvas serve running there?)"
        else:
            reason = err.strerror or str(err)
        return ServerUnavailableError(
            f"cannot reach the server at {self.address.display}: {reason}"
        )

    def _dropped(self, err: Exception) -> ServerUnavailableError:
        hint = "; if it uses TLS, its address starts with https://" if not self._tls else ""
        return ServerUnavailableError(
            f"the server at {self.address.display} closed the connection without answering{hint}"
        )

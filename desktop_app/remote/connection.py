"""One kept-alive HTTP/1.1 connection to a server (the standard library's ``http.client``),
from one thread, that a caller can give up on at any moment.

A frame is one request. Every wait in it is bounded twice over: the caller's
``should_cancel`` is asked every 20 ms (while dialling, sending the body, and waiting for and
reading the answer), and a server that lets ``silence_s`` pass without a byte moving either
way is given up on (``watched_socket``). The silence limit is short (``SILENCE_S``) because a
server that streams its answers (``core/wire_stream``) says "accepted" at once and sends a
heartbeat every couple of seconds however long the frame takes; an older server, which
answers only when its frame is done, gets the old limit of a whole frame (``ANSWER_S``).
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
from desktop_app.remote.watched_socket import POLL_S, ServerSilent, Watch, WatchedSocket

CONNECT_TIMEOUT_S = 3.0
# The longest a server may stay silent: six of a streaming server's heartbeats (2 s apart)
# missed in a row, or a request's bytes not taken for as long. Long enough for a busy machine
# or a congested link, short enough that a hung server is said within seconds, not minutes.
SILENCE_S = 12.0
ANSWER_S = 120.0  # an older server's whole frame: a full-size model on a CPU takes tens of s
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
    content_type: str = ""  # the answer's media type, without parameters


def _never() -> bool:
    return False


def _wait_to_connect(sock, should_cancel: Callable[[], bool], deadline: float) -> None:
    """Until the non-blocking ``connect`` of ``sock`` is done, asking ``should_cancel`` every
    few ms. RenderCancelled or TimeoutError otherwise."""
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        while not selector.select(POLL_S):
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
        silence_s: float | None = None,
    ) -> None:
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self.silence_s = SILENCE_S if silence_s is None else silence_s
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
        self._sock: WatchedSocket | None = None  # the socket of ``_conn``

    def close(self) -> None:
        if self._conn is not None:
            if self._sock is not None:
                self._sock.abort()  # even while an answer is read: the server sees us go
            self._conn.close()
            self._conn = None
            self._sock = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        should_cancel: Callable[[], bool] | None = None,
        silence_s: float | None = None,
        on_data: Callable[[bytes], None] | None = None,
    ) -> Answer:
        """``silence_s``: the longest the server may stay silent (default ``self.silence_s``);
        an exchange with a server that answers only at the end of its work needs its whole
        time here. ``on_data`` hears each piece of the answer's body as it arrives (a
        streamed answer's records)."""
        watch = Watch(should_cancel or _never, self.silence_s if silence_s is None else silence_s)
        for attempt in (1, 2):
            reused = self._conn is not None
            try:
                conn = self._conn or self._open(watch.should_cancel)
                self._conn = conn
                return self._exchange(conn, method, path, body, watch, on_data)
            except _DROPPED:
                heard = self._sock is not None and self._sock.heard
                self.close()
                if reused and attempt == 1 and not heard:
                    continue  # the server had closed this idle connection: dial again, once
                raise self._dropped(heard) from None
            except ServerSilent as silent:
                self.close()
                raise self._silent(silent) from None
            except ssl.SSLError as err:
                self.close()
                raise ServerUnavailableError(
                    f"the TLS connection to {self.address.display} failed: {err.reason or err}"
                ) from None
            except OSError as err:
                self.close()
                raise self._unreachable(err) from None
            except BaseException:  # cancelled, or the caller's own progress gave up
                self.close()
                raise
        raise AssertionError("unreachable")  # the loop returns or raises

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        body: bytes,
        watch: Watch,
        on_data: Callable[[bytes], None] | None = None,
    ) -> Answer:
        assert self._sock is not None  # set with _conn
        self._sock.begin(watch)
        start = time.perf_counter()
        conn.request(method, path, body=body or None, headers=self._headers)
        response = conn.getresponse()
        chunks = []
        while chunk := response.read1(1 << 16):  # a streamed answer: records as they come
            chunks.append(chunk)
            if on_data is not None:
                on_data(chunk)
        response.close()  # read to its end (read1 leaves a sized answer open at its end)
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        if response.will_close:
            self.close()
        media = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        return Answer(response.status, b"".join(chunks), elapsed_ms, len(body), media)

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
            _wait_to_connect(sock, should_cancel, deadline)
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
            self._sock = conn.sock = WatchedSocket(sock)
            return conn
        sock.settimeout(self.connect_timeout_s)  # the handshake: bounded, though not cancelled
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
        conn = http.client.HTTPSConnection(host, port, context=self._tls)
        self._sock = conn.sock = WatchedSocket(wrapped)
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

    def _silent(self, silent: ServerSilent) -> ServerUnavailableError:
        where, quiet = self.address.display, f"{silent.silence_s:g} s"
        if silent.sending:
            what = f"stopped taking our request for {quiet}"
        elif silent.heard:
            what = f"went silent for {quiet} in the middle of its answer"
        else:
            what = f"took our request but sent nothing for {quiet}"
        return ServerUnavailableError(
            f"the server at {where} {what} (it may be hung or overloaded)"
        )

    def _dropped(self, heard: bool) -> ServerUnavailableError:
        if heard:  # a streamed answer cut short: the frame was taken, then lost
            return ServerUnavailableError(
                f"the server at {self.address.display} lost the frame (the connection closed "
                "in the middle of its answer; a replica may have stopped, and Ray Serve "
                "starts another)"
            )
        hint = "; if it uses TLS, its address starts with https://" if not self._tls else ""
        return ServerUnavailableError(
            f"the server at {self.address.display} closed the connection without answering{hint}"
        )

"""``FrameService`` behind the standard library's HTTP server: the stand-in for Ray Serve's
proxy where the tests run without Ray (the same endpoints, checks, statuses and bodies over
kept-alive HTTP/1.1, one thread per connection). Ray's own deployment is tested, through its
real proxy, in tests/serving/."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from desktop_app.core.wire import (
    CONTENT_TYPE,
    EXPORT_PATH,
    INFO_PATH,
    WireError,
    error_body,
    unpack,
)
from desktop_app.serving.service import FrameService, check_endpoint, token_digest


@contextlib.contextmanager
def serving(engine, replica: str = "", token: str | None = None, styles: tuple = ()):
    """A started ``ServiceServer`` around ``engine``, stopped at the end of the block."""
    digest = token_digest(token) if token else None
    server = ServiceServer(FrameService(engine, digest, replica, styles))
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ServiceServer:
    def __init__(self, service: FrameService, port: int = 0) -> None:
        self.service = service
        self.port = port
        self.frames_received: list[int] = []  # request ids of the frame bodies, in order
        self.delay_s = 0.0  # added to every frame: a slow server or link
        self.started = threading.Event()  # set when a frame begins (for a cancel test)
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self.url

    @contextlib.contextmanager
    def again(self):
        """The same service started again on the same port (after ``stop``), for a block."""
        server = ServiceServer(self.service, port=self.port)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def stop(self) -> None:
        """As a server that dies: the port closes and open connections are cut."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        for sock in list(self._connections):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._httpd = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: ServiceServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK (40 ms a frame), which Serve's proxy does not do.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server_owner._connections.add(self.connection)

    def finish(self) -> None:
        self.server_owner._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, *_args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        owner, service = self.server_owner, self.server_owner.service
        try:
            service.authorize(self.headers.get("Authorization"))
            check_endpoint(self.command, self.path)
            if self.path == INFO_PATH:
                self._send(200, json.dumps(service.info()).encode(), "application/json")
                return
            service.check_upload(
                self.headers.get("Content-Type"), self.headers.get("Content-Length")
            )
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with contextlib.suppress(WireError):
                owner.frames_received.append(unpack(body)[0].get("id"))
            owner.started.set()
            time.sleep(owner.delay_s)
            payload = service.frame(body, export=self.path == EXPORT_PATH)
            self._send(200, payload, CONTENT_TYPE)
        except WireError as err:
            self.close_connection = True  # the body may be unread
            self._send(err.status, error_body(str(err)), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

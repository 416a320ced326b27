"""``FrameService`` behind the standard library's HTTP server: the stand-in for Ray Serve's
proxy where the tests run without Ray (the same endpoints, checks, statuses and bodies over
kept-alive HTTP/1.1, one thread per connection, and streamed replies with heartbeats for the
clients that ask). Ray's own deployment is tested, through its real proxy, in tests/serving/."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from desktop_app.core.errors import RenderCancelled
from desktop_app.core.wire import (
    CONTENT_TYPE,
    EXPORT_PATH,
    INFO_PATH,
    WireError,
    error_body,
    pack,
    unpack,
)
from desktop_app.core.wire_finish import FINISH_PATH
from desktop_app.core.wire_finish import progress_record as finish_progress_record
from desktop_app.core.wire_stream import (
    HEARTBEAT_S,
    STREAM_CONTENT_TYPE,
    accepted_record,
    error_record,
    progress_record,
    result_record,
)
from desktop_app.serving.finishing import accept_finish, answer_finish
from desktop_app.serving.service import (
    AcceptedFrame,
    FrameProgress,
    FrameService,
    check_endpoint,
    token_digest,
)


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
        self.heartbeat_s = HEARTBEAT_S  # a streamed reply's news while a frame renders
        self.heartbeats = True  # False: a streamed reply goes silent after "accepted"
        self.hang = False  # True: a frame's request is read and never answered
        self.started = threading.Event()  # set when a frame begins (for a cancel test)
        self._stopped = threading.Event()  # releases the frames that hang
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
        self._stopped.set()
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
            if owner.hang:
                owner._stopped.wait()
                self.close_connection = True
                return
            if self.path == FINISH_PATH:
                self._finish(accept_finish(service, body))
                return
            frame = service.accept(body, export=self.path == EXPORT_PATH)
            if frame.streamed:
                self._stream(frame)
                return
            time.sleep(owner.delay_s)
            self._send(200, pack(*service.answer(frame)), CONTENT_TYPE)
        except WireError as err:
            self.close_connection = True  # the body may be unread
            self._send(err.status, error_body(str(err)), "application/json")

    def _stream(self, frame: AcceptedFrame) -> None:
        """As the deployment streams: "accepted", a heartbeat while the frame renders (on a
        thread of its own), then its result or error, in HTTP/1.1 chunks."""
        owner, progress, outcome = self.server_owner, FrameProgress(), []

        def render() -> None:
            time.sleep(owner.delay_s)
            try:
                outcome.append(result_record(*owner.service.answer(frame, progress=progress)))
            except WireError as err:
                outcome.append(error_record(err.status, str(err)))

        try:
            self.send_response(200)
            self.send_header("Content-Type", STREAM_CONTENT_TYPE)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._chunk(accepted_record(owner.heartbeat_s))
            start, work = time.perf_counter(), threading.Thread(target=render, daemon=True)
            work.start()
            while work.is_alive():
                work.join(owner.heartbeat_s)
                if work.is_alive() and owner.heartbeats:
                    elapsed_ms = (time.perf_counter() - start) * 1000
                    self._chunk(progress_record(progress.stage, elapsed_ms))
            self._chunk(outcome[0])
            self._chunk(b"")  # the end of the chunked body
        except OSError:  # the client went away
            self.close_connection = True

    def _finish(self, accepted) -> None:
        """As the deployment answers a finish: streamed, each stage and step as it happens
        and heartbeats between (or one reply at the end, for a client that asked for none)."""
        owner = self.server_owner
        if not accepted.streamed:
            self._send(200, pack(*answer_finish(owner.service, accepted)), CONTENT_TYPE)
            return
        news: queue.Queue = queue.Queue()

        def work() -> None:
            try:
                header, png = answer_finish(owner.service, accepted, heard=news.put)
                news.put(result_record(header, png))
            except WireError as err:
                news.put(error_record(err.status, str(err)))
            except RenderCancelled:
                news.put(error_record(503, "the finish was cancelled on the server"))

        try:
            self.send_response(200)
            self.send_header("Content-Type", STREAM_CONTENT_TYPE)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._chunk(accepted_record(owner.heartbeat_s))
            threading.Thread(target=work, daemon=True).start()
            start = time.perf_counter()
            while True:
                try:
                    item = news.get(timeout=owner.heartbeat_s)
                except queue.Empty:
                    self._chunk(progress_record("finishing", (time.perf_counter() - start) * 1e3))
                    continue
                if isinstance(item, bytes):
                    self._chunk(item)
                    break
                self._chunk(finish_progress_record(item))
            self._chunk(b"")
        except OSError:
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

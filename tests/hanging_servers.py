"""Servers that are dead without saying so: a TCP listener on 127.0.0.1 that accepts every
connection and then never reads from it, or reads everything and never answers."""

from __future__ import annotations

import contextlib
import socket
import threading


class HangingServer:
    def __init__(self, reads: bool) -> None:
        self.reads = reads
        self.accepted = 0  # connections taken (each retry dials again)
        self._listener = socket.socket()
        # A small receive buffer: a server that does not read stops a large upload early.
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._connections: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._connections.append(conn)
            if self.reads:
                threading.Thread(target=self._swallow, args=(conn,), daemon=True).start()

    def _swallow(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while conn.recv(65536):
                pass

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        for conn in self._connections:
            with contextlib.suppress(OSError):
                conn.close()


@contextlib.contextmanager
def hanging_server(reads: bool):
    server = HangingServer(reads)
    try:
        yield server
    finally:
        server.stop()

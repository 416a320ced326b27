"""A TCP relay on 127.0.0.1 that behaves like a slower link: each direction delays every
byte by a fixed time and carries at most a given rate (the kernel's netem is not available
on every machine this runs on). It also counts the bytes each way, headers included.

A chunk read at time t leaves the link when the link is free and the chunk has been
"serialised" (its bits at the rate), and arrives ``delay_s`` later: the same model as a
router's queue in front of a wire of that speed and length.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

_CHUNK = 64 * 1024


class _Link:
    """One direction: serialisation at ``rate_bps``, then ``delay_s`` in flight."""

    def __init__(self, delay_s: float, rate_bps: float) -> None:
        self.delay_s, self.rate_bps = delay_s, rate_bps
        self.free_at = 0.0
        self.bytes = 0

    def arrival(self, size: int) -> float:
        now = time.monotonic()
        self.free_at = max(self.free_at, now) + size * 8 / self.rate_bps
        self.bytes += size
        return self.free_at + self.delay_s


class SlowLinkRelay:
    """``start()`` returns the local port; connections to it reach ``host:port``."""

    def __init__(self, host: str, port: int, delay_s: float = 0.001, rate_bps: float = 100e6):
        self.target = (host, port)
        self.up = _Link(delay_s, rate_bps)  # client to server
        self.down = _Link(delay_s, rate_bps)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task] = set()

    def start(self) -> int:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, "127.0.0.1", 0))
        return self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close the port and every connection through it; the relay's thread ends."""
        if self._server is not None:
            self._server.close()
            self._call(self._cut_connections())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coroutine: Awaitable):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _cut_connections(self) -> None:
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, client_reader, client_writer) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        server_writer = None
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(
                _pump(client_reader, server_writer, self.up.arrival),
                _pump(server_reader, client_writer, self.down.arrival),
            )
        except (OSError, asyncio.CancelledError):
            pass  # the far side is gone, or the relay is stopping: the connection ends
        finally:
            self._connections.discard(task)
            for writer in (client_writer, server_writer):
                if writer is not None:
                    writer.close()


async def _pump(reader, writer, arrival: Callable[[int], float]) -> None:
    """Forward ``reader`` to ``writer``, each chunk at its arrival time; in order."""
    queue: asyncio.Queue = asyncio.Queue()

    async def deliver() -> None:
        while (item := await queue.get()) is not None:
            at, data = item
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while data := await reader.read(_CHUNK):
            queue.put_nowait((arrival(len(data)), data))
        queue.put_nowait(None)
        await sender
    except (ConnectionError, OSError):
        pass
    finally:
        sender.cancel()
        writer.close()

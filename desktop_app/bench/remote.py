"""``live-canvas bench --server URL``: what drawing against a server costs over drawing in
this process, and how a server shares itself among clients.

- Per frame (one client, frames back to back): the overhead of the remote path is everything
  but the server's own engine time for that very frame, split into this side's sketch
  encode, the transfer (round trip minus the server's handler time: network and Serve's
  proxy), the server's queue, its decode and encode, the rest of its handler, and this
  side's picture decode; with the bytes each way.
- Concurrency: N clients, each with its own connection, drawing back to back for a while:
  frames per second in all, and any frame lost or answered to the wrong request.
- A LAN: the same frames through a relay that delays each direction and caps its rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.bench.common import StrokeSketch, load_average, percentile
from desktop_app.bench.relay import SlowLinkRelay
from desktop_app.core.errors import LiveCanvasError
from desktop_app.core.types import FrameResult, RenderRequest
from desktop_app.core.wire import Reply
from desktop_app.remote.address import ServerAddress
from desktop_app.remote.engine import RemoteEngine, connect

PROMPT = "a lighthouse on a cliff at dusk"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class RemoteBenchConfig:
    server: str
    token_file: str | None = None
    ca_file: str | None = None
    size: int = 512
    frames: int = 50
    warmup: int = 5
    clients: tuple[int, ...] = (1, 2, 4)
    seconds: float = 10.0
    lan: bool = True
    lan_delay_ms: float = 1.0
    lan_mbit: float = 100.0
    reply: Reply = Reply()


def run_remote_bench(config: RemoteBenchConfig, progress: Progress) -> dict:
    engine = _connect(config, config.server)
    progress(f"server {engine.info.server}: {engine.info.describe()}")
    loads = [load_average()]
    progress(f"{config.warmup} warm-up and {config.frames} timed frames, one client")
    frames = _frames(engine, config, config.frames, config.warmup, seed=1)
    report = {
        "server": engine.info.server,
        "model": engine.info.model,
        "device": engine.info.device,
        "dtype": engine.info.dtype,
        "size": config.size,
        "frames": config.frames,
        "warmup": config.warmup,
        "reply": {"format": config.reply.format, "quality": config.reply.quality},
        "per_frame": per_frame_summary(frames),
        "concurrency": {},
    }
    for clients in config.clients:
        progress(f"{clients} client(s) drawing at once for {config.seconds:g} s")
        report["concurrency"][str(clients)] = _concurrent(config, clients)
    if config.lan:
        progress(f"through a {config.lan_delay_ms:g} ms, {config.lan_mbit:g} Mbit/s relay")
        report["lan"] = _through_relay(config)
    engine.close()
    report["load_average"] = loads + [load_average()]
    return report


def _connect(config: RemoteBenchConfig, url: str) -> RemoteEngine:
    return connect(url, config.token_file, config.ca_file, reply=config.reply)


def _frames(
    engine: RemoteEngine, config: RemoteBenchConfig, count: int, warmup: int, seed: int
) -> list[FrameResult]:
    """``count`` frames after ``warmup``, back to back, each of a sketch one stroke longer."""
    sketches = StrokeSketch(config.size)
    results = []
    for i in range(warmup + count):
        request = RenderRequest(
            sketch=sketches.next(), prompt=PROMPT, seed=seed, size=config.size, request_id=i + 1
        )
        result = engine.render(request)
        if i >= warmup:
            results.append(result)
    return results


def per_frame_summary(results: list[FrameResult]) -> dict:
    """Medians and 95th percentiles of each part of the remote path, in ms and bytes."""
    parts: dict[str, list[float]] = {}
    for result in results:
        remote, server = result.remote, result.remote.server
        engine_ms = result.timings.total_ms
        codec = server.decode_ms + server.encode_ms
        values = {
            "frame_ms": remote.total_ms,
            "engine_ms": engine_ms,
            "overhead_ms": remote.total_ms - engine_ms,
            "encode_ms": remote.encode_ms,
            "transfer_ms": remote.network_ms,
            "server_queue_ms": server.queue_ms,
            "server_codec_ms": codec,
            "server_other_ms": server.handler_ms - engine_ms - server.queue_ms - codec,
            "decode_ms": remote.decode_ms,
            "bytes_up": remote.bytes_up,
            "bytes_down": remote.bytes_down,
        }
        for name, value in values.items():
            parts.setdefault(name, []).append(float(value))
    return {
        name: {"median": percentile(v, 50), "p95": percentile(v, 95), "max": max(v)}
        for name, v in parts.items()
    }


def _concurrent(config: RemoteBenchConfig, clients: int) -> dict:
    """``clients`` threads, each its own connection and seed, drawing back to back."""
    counts = [0] * clients
    engine_ms: list[float] = []  # the server's engine time per frame, under this load
    frame_ms: list[float] = []
    errors: list[str] = []
    replicas: set[str] = set()
    start_line = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(index: int) -> None:
        engine = _connect(config, config.server)
        engine.render(_request(config, index, 0))  # connected and warm before the clock
        start_line.wait()
        sketches, n = StrokeSketch(config.size), 0
        while not stop.is_set():
            n += 1
            request = _request(config, index, n, sketches.next())
            try:
                result = engine.render(request)
            except LiveCanvasError as err:  # lost, or answered to another request
                errors.append(str(err))
                time.sleep(0.1)
                continue
            replicas.add(result.remote.server.replica)
            engine_ms.append(result.timings.total_ms)
            frame_ms.append(result.remote.total_ms)
            counts[index] += 1
        engine.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    time.sleep(config.seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began  # the last frames finish after the stop
    return {
        "clients": clients,
        "frames": sum(counts),
        "seconds": round(elapsed, 2),
        "fps": sum(counts) / elapsed,
        "fps_per_client": [c / elapsed for c in counts],
        "frame_ms_median": percentile(frame_ms, 50),
        "engine_ms_median": percentile(engine_ms, 50),
        "errors": errors,
        "replicas_seen": len(replicas),
    }


def _request(config: RemoteBenchConfig, client: int, n: int, sketch=None) -> RenderRequest:
    sketch = sketch if sketch is not None else StrokeSketch(config.size).next()
    return RenderRequest(
        sketch=sketch, prompt=PROMPT, seed=100 + client, size=config.size, request_id=n + 1
    )


def _through_relay(config: RemoteBenchConfig) -> dict:
    address = ServerAddress.parse(config.server)
    relay = SlowLinkRelay(
        address.host, address.port, config.lan_delay_ms / 1000, config.lan_mbit * 1e6
    )
    port = relay.start()
    try:
        host = f"[{address.host}]" if ":" in address.host else address.host
        engine = _connect(config, f"{address.scheme}://{host}:{port}")
        frames = max(10, config.frames // 2)
        start = time.perf_counter()
        results = _frames(engine, config, frames, warmup=0, seed=2)
        elapsed = time.perf_counter() - start
        engine.close()
    finally:
        relay.stop()
    summary = per_frame_summary(results)
    return {
        "delay_ms_each_way": config.lan_delay_ms,
        "mbit_per_s": config.lan_mbit,
        "frames": frames,
        "fps": frames / elapsed,
        "frame_ms": summary["frame_ms"],
        "transfer_ms": summary["transfer_ms"],
        "wire_bytes_up_per_frame": relay.up.bytes / frames,
        "wire_bytes_down_per_frame": relay.down.bytes / frames,
    }


def summary_text(report: dict) -> str:
    f = report["per_frame"]

    def mp(name: str, unit: str = "ms") -> str:
        return f"{f[name]['median']:.1f} / {f[name]['p95']:.1f} {unit}"

    lines = [
        f"{report['model']} at {report['size']}x{report['size']} on {report['device']} at "
        f"{report['server']}, {report['frames']} frames, {report['date']}",
        f"  frame {mp('frame_ms')} (median / p95); the server's engine {mp('engine_ms')}",
        f"  overhead of the remote path {mp('overhead_ms')}: encode {mp('encode_ms')}, transfer "
        f"{mp('transfer_ms')}, server queue {mp('server_queue_ms')}, server decode+encode "
        f"{mp('server_codec_ms')}, server other {mp('server_other_ms')}, decode {mp('decode_ms')}",
        f"  bytes per frame: up {f['bytes_up']['median'] / 1024:.1f} KB, down "
        f"{f['bytes_down']['median'] / 1024:.1f} KB (medians)",
    ]
    for clients, c in report["concurrency"].items():
        lines.append(
            f"  {clients} client(s): {c['fps']:.2f} frames/s in all ({c['frames']} frames, "
            f"{len(c['errors'])} errors, {c['replicas_seen']} replicas seen; medians: frame "
            f"{c['frame_ms_median'] or 0:.0f} ms, the server's engine "
            f"{c['engine_ms_median'] or 0:.0f} ms)"
        )
    if "lan" in report:
        lan = report["lan"]
        lines.append(
            f"  through {lan['delay_ms_each_way']:g} ms / {lan['mbit_per_s']:g} Mbit/s: "
            f"{lan['fps']:.2f} frames/s, frame {lan['frame_ms']['median']:.1f} ms median, "
            f"{lan['wire_bytes_up_per_frame'] / 1024:.1f} KB up and "
            f"{lan['wire_bytes_down_per_frame'] / 1024:.1f} KB down on the wire per frame"
        )
    return "\n".join(lines)

"""``live-canvas bench --server URL --artists K``: what one server holds, as artists use it.

K simulated artists, each with its own connection, seed and drawing, draw as a person does: a
new stroke every ``stroke_ms`` (each artist on its own phase), and, as the window does,
latest wins with one frame in flight: when a frame comes back the newest stroke is sent, and
strokes drawn while it was away that a newer one superseded are never sent ("dropped"). An
artist whose frames come back faster than strokes waits for the next stroke; at
``stroke_ms`` 0 they draw without pause (a server's ceiling).

Each run is made twice on the same server, batching on and then off (the frames ask the
server to render alone, ``"batch": false``), and says per artist frames/s, the median and 95th
percentile round trip, the strokes dropped, the batch sizes the server formed, and the
fairness ratio (the best artist's frames/s over the worst's).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from desktop_app.bench.common import StrokeSketch, load_average, percentile
from desktop_app.core.errors import LiveCanvasError
from desktop_app.core.types import RenderRequest
from desktop_app.remote.engine import connect

PROMPTS = ("a lighthouse on a cliff at dusk", "a cat asleep on a windowsill")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class LoadConfig:
    server: str
    artists: int = 4
    seconds: float = 20.0
    stroke_ms: float = 150.0
    size: int = 512
    token_files: tuple[str | None, ...] = (None,)  # one per artist, reused round robin
    ca_file: str | None = None
    modes: tuple[str, ...] = ("on", "off")  # batching on, then off, on the same server


def run_load(config: LoadConfig, progress: Progress) -> dict:
    report: dict = {
        "server": config.server,
        "artists": config.artists,
        "seconds": config.seconds,
        "stroke_ms": config.stroke_ms,
        "size": config.size,
        "load_average": [load_average()],
        "runs": {},
    }
    for mode in config.modes:
        progress(f"{config.artists} artists for {config.seconds:g} s, batching {mode}")
        report["runs"][mode] = _run(config, batching=mode == "on")
        report["load_average"].append(load_average())
    return report


@dataclass
class _Artist:
    index: int
    frames: int = 0
    dropped: int = 0
    errors: int = 0


def _run(config: LoadConfig, batching: bool) -> dict:
    artists = [_Artist(i) for i in range(config.artists)]
    round_trips: list[list[float]] = [[] for _ in artists]
    batches: Counter[int] = Counter()
    engine_ms: list[float] = []  # the server's engine time per frame (its batch's)
    queue_ms: list[float] = []  # the server's wait for the engine
    errors: list[str] = []
    start_line = threading.Barrier(config.artists + 1)
    began: list[float] = []

    def draw(artist: _Artist) -> None:
        tokens = config.token_files
        engine = connect(config.server, tokens[artist.index % len(tokens)], config.ca_file)
        engine.may_batch = batching
        sketches = StrokeSketch(config.size)
        engine.render(_request(config, artist.index, 0, sketches.next()))  # warm, connected
        start_line.wait()
        start = began[0]
        phase = artist.index / max(1, config.artists)  # artists do not draw in step
        sent = 0  # the stroke last sent
        while (now := time.perf_counter()) - start < config.seconds:
            stroke = _strokes(now - start, config.stroke_ms, phase, sent)
            if stroke <= sent:
                time.sleep(_until_next(now - start, config.stroke_ms, phase))
                continue
            artist.dropped += max(0, stroke - sent - 1)
            sent = stroke
            try:
                result = engine.render(_request(config, artist.index, stroke, sketches.next()))
            except LiveCanvasError as err:
                artist.errors += 1
                errors.append(str(err))
                continue
            artist.frames += 1
            round_trips[artist.index].append(result.remote.total_ms)
            batches[result.remote.server.batch_size] += 1
            engine_ms.append(result.timings.total_ms)
            queue_ms.append(result.remote.server.queue_ms)
        engine.close()

    threads = [threading.Thread(target=draw, args=(a,), daemon=True) for a in artists]
    for thread in threads:
        thread.start()
    began.append(time.perf_counter() + 0.05)
    start_line.wait()
    for thread in threads:
        thread.join(config.seconds + 120)
    elapsed = time.perf_counter() - began[0]
    per_artist = [
        {
            "fps": a.frames / elapsed,
            "frames": a.frames,
            "round_trip_ms_p50": percentile(round_trips[a.index], 50),
            "round_trip_ms_p95": percentile(round_trips[a.index], 95),
            "dropped": a.dropped,
            "errors": a.errors,
        }
        for a in artists
    ]
    rates = [a["fps"] for a in per_artist]
    return {
        "batching": batching,
        "seconds": round(elapsed, 2),
        "fps_total": sum(rates),
        "frames_total": sum(a.frames for a in artists),
        "fairness": max(rates) / min(rates) if min(rates) > 0 else None,
        "per_artist": per_artist,
        "batch_sizes": {str(size): count for size, count in sorted(batches.items())},
        "engine_ms_p50": percentile(engine_ms, 50),
        "server_queue_ms_p50": percentile(queue_ms, 50),
        "errors": errors[:10],
    }


def _strokes(elapsed_s: float, stroke_ms: float, phase: float, sent: int) -> int:
    """Strokes drawn so far (at ``stroke_ms`` 0: always one more than was sent)."""
    if stroke_ms <= 0:
        return sent + 1
    return int((elapsed_s * 1000.0) / stroke_ms + phase) + 1


def _until_next(elapsed_s: float, stroke_ms: float, phase: float) -> float:
    if stroke_ms <= 0:
        return 0.0
    position = (elapsed_s * 1000.0) / stroke_ms + phase
    return max(0.001, (int(position) + 1 - position) * stroke_ms / 1000.0)


def _request(config: LoadConfig, artist: int, stroke: int, sketch) -> RenderRequest:
    return RenderRequest(
        sketch=sketch,
        prompt=PROMPTS[artist % len(PROMPTS)],
        seed=100 + artist,
        size=config.size,
        request_id=(stroke % (1 << 30)) + 1,
    )


def load_summary(report: dict) -> str:
    lines = [
        f"{report['artists']} artists, a stroke every {report['stroke_ms']:g} ms, "
        f"{report['size']}x{report['size']}, {report['seconds']:g} s per run, at "
        f"{report['server']}"
    ]
    for mode, run in report["runs"].items():
        fairness = run["fairness"]
        lines.append(
            f"  batching {mode}: {run['fps_total']:.2f} frames/s in all, fairness "
            f"{'-' if fairness is None else f'{fairness:.2f}'}, batch sizes "
            + ", ".join(f"{size}: {n}" for size, n in run["batch_sizes"].items())
            + f"; medians: the server's engine {run['engine_ms_p50'] or 0:.0f} ms, its queue "
            f"{run['server_queue_ms_p50'] or 0:.0f} ms"
        )
        for i, artist in enumerate(run["per_artist"]):
            p50, p95 = artist["round_trip_ms_p50"] or 0, artist["round_trip_ms_p95"] or 0
            lines.append(
                f"    artist {i + 1}: {artist['fps']:.2f} frames/s, round trip {p50:.0f} / "
                f"{p95:.0f} ms (p50 / p95), {artist['dropped']} strokes dropped, "
                f"{artist['errors']} errors"
            )
    return "\n".join(lines)

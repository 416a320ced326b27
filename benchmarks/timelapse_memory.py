"""A 30-minute timelapse through the real recorder: does memory stay flat, what does a frame
cost the UI thread, how large is the spool, how long do the exports take?

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/timelapse_memory.py \
        --fps 5 --minutes 30 --size 512 [--no-export]

Feeds ``fps * minutes * 60`` frames of ``size`` pixels with changing content (a picture
whose shapes move and whose colours drift, and a sketch that gains a line every frame, so
neither the duplicate check nor the unchanged-sketch shortcut saves anything) to
``TimelapseRecorder.take`` as fast as the writer takes them: the feeder only waits while the
recorder's queue is full, so every frame is written and the spool is a whole session's. The
recorded times are the session's (``fps`` a second), not the feeding's. RSS is sampled every
50 ms by a thread. Then the recording is exported to MP4 and WebP (side by side, 4x) with
their time and peak RSS.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace


class RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.05)

    def now(self) -> int:
        return self.process.memory_info().rss


def _frames_double():
    """What the recorder reads from the frame pacer: a signal and the drawing of a result."""
    from PySide6.QtCore import QObject, Signal

    class Frames(QObject):
        result_shown = Signal(object)

        def __init__(self) -> None:
            super().__init__()
            self.drawings = {}

        def drawing_of(self, result):
            return self.drawings.pop(result.request_id, None)

    return Frames()


def _content(size: int):
    """Frame n's picture and sketch, cheap to make and never the same twice."""
    import numpy as np

    from desktop_app.app.drawing import Drawing

    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x * 255 // size, y * 255 // size, (x + y) * 127 // size], -1).astype(np.uint8)
    sketch = np.full((size, size, 3), 255, np.uint8)
    rng = np.random.default_rng(0)

    def frame(n: int):
        picture = np.roll(base, n % size, axis=1) // 2 + np.uint8(n % 97)
        top = (n * 7) % (size - 64)
        picture[top : top + 64, top : top + 64] = (200, 40 + n % 200, 90)
        row, col = rng.integers(0, size, 2)
        sketch[row, max(0, col - 40) : col + 40] = 0
        return picture, Drawing(sketch.copy())

    return frame


def record(args, folder: Path, sampler: RssSampler) -> dict:
    from PySide6.QtCore import QCoreApplication

    from desktop_app.app.state import LiveState
    from desktop_app.app.timelapse import recorder as timelapse

    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    count = int(args.fps * args.minutes * 60)
    clock = SimpleNamespace(now=0.0)
    timelapse.time = SimpleNamespace(monotonic=lambda: clock.now)  # the session's times
    state, frames = LiveState(), _frames_double()
    recorder = timelapse.TimelapseRecorder(state, frames, folder)
    state.timelapse_recording = True
    make = _content(args.size)
    take_ms, waited_s, start_rss = [], 0.0, sampler.now()
    started = time.perf_counter()
    for n in range(count):
        picture, drawing = make(n)
        frames.drawings[n] = drawing
        result = SimpleNamespace(image=picture, request_id=n)
        clock.now = n / args.fps
        while recorder.waiting >= timelapse.MAX_WAITING:  # this benchmark wants every frame
            wait_start = time.perf_counter()
            time.sleep(0.002)
            waited_s += time.perf_counter() - wait_start
        t0 = time.perf_counter()
        recorder.take(result)  # what result_shown calls on the UI thread
        take_ms.append((time.perf_counter() - t0) * 1000)
        if n % 50 == 0:
            app.processEvents()
    recorder.wait()
    app.processEvents()
    return {
        "frames": count,
        "recorded": recorder.frame_count,
        "dropped": recorder.dropped,
        "seconds": time.perf_counter() - started,
        "feeder waited s": waited_s,
        "take ms": take_ms,
        "rss start": start_rss,
        "rss peak": sampler.peak,
        "rss end": sampler.now(),
        "spool bytes": recorder.spool_bytes,
    }


def export(folder: Path, fmt: str, sampler: RssSampler) -> dict:
    from desktop_app.app.timelapse.export import TimelapseOptions, export_timelapse

    out = folder.parent / f"film.{fmt}"
    sampler.peak = sampler.now()
    before = sampler.peak
    started = time.perf_counter()
    report = export_timelapse(folder, out, TimelapseOptions(fmt, "side", 4.0))
    return {
        "format": fmt,
        "seconds": time.perf_counter() - started,
        "frames": report.frames,
        "film s": report.duration_ms / 1000,
        "MB": out.stat().st_size / 1024**2,
        "rss before": before,
        "rss peak": sampler.peak,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--no-export", action="store_true")
    args = parser.parse_args(argv)
    mb = 1024**2
    folder = Path(tempfile.mkdtemp(prefix="live-canvas-timelapse-")) / "timelapse"
    sampler = RssSampler()
    sampler.start()
    got = record(args, folder, sampler)
    take = got["take ms"]
    print(f"{got['frames']} frames of {args.size}x{args.size} ({args.fps:g} fps for "
          f"{args.minutes:g} min) in {got['seconds']:.0f} s; recorded {got['recorded']}, "
          f"dropped {got['dropped']}; the feeder waited {got['feeder waited s']:.0f} s")
    print(f"RSS start {got['rss start'] / mb:.0f} MB, peak {got['rss peak'] / mb:.0f} MB, "
          f"end {got['rss end'] / mb:.0f} MB; spool {got['spool bytes'] / mb:.0f} MB "
          f"({got['spool bytes'] / max(1, got['recorded']) / 1024:.0f} KB a frame)")
    print(f"UI thread per frame (take): median {statistics.median(take) * 1000:.0f} us, "
          f"p99 {statistics.quantiles(take, n=100)[-1] * 1000:.0f} us, max {max(take):.2f} ms")
    if not args.no_export:
        for fmt in ("mp4", "webp"):
            e = export(folder, fmt, sampler)
            print(f"export {fmt}: {e['frames']} frames, {e['film s']:.0f} s of film, "
                  f"{e['MB']:.0f} MB in {e['seconds']:.0f} s; RSS {e['rss before'] / mb:.0f} "
                  f"-> peak {e['rss peak'] / mb:.0f} MB")
    sampler.running = False
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

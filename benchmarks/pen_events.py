"""A pen drawing while the worker renders: are tablet events lost, and how long does the UI
thread stall?

Strokes of 200 tablet events each (press, 199 moves at a 250 Hz pen's 4 ms, release) are
queued to the canvas as a pen's driver queues them, while the model renders continuously. A
1 ms QTimer measures the UI thread's stalls; the canvas counts the events it handled and
times its paints. ``--full-repaint`` repaints the whole canvas for every event, as before
strokes repainted only their dirty rectangle.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/pen_events.py --model tiny --strokes 10
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EVENTS_PER_STROKE = 200
PEN_INTERVAL_MS = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--strokes", type=int, default=10)
    parser.add_argument("--full-repaint", action="store_true")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QCoreApplication, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication, QWidget
    from stall_ticker import StallTicker  # beside this script

    from desktop_app.app.settings import set_application_names
    from desktop_app.ui.startup import create_window

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pen_events import stroke_events

    set_application_names()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="live-canvas-pen-"))
    window = create_window(
        model=args.model,
        qsettings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat),
        data_dir=tmp / "data",
        restore=False,
    )
    window.resize(1100, 800)
    window.show()
    window.start()
    loaded: dict = {}
    window.controller.gate.engine_loaded.connect(lambda info: loaded.update(info=info))
    window.controller.gate.engine_failed.connect(lambda message: loaded.update(error=message))
    while not loaded:
        app.processEvents()
        time.sleep(0.01)
    if "error" in loaded:
        sys.exit(f"the model did not load: {loaded['error']}")
    canvas, worker = window.canvas, window.controller.worker

    handled, paint_ms = [0], []
    original_tablet, original_paint = canvas.tabletEvent, canvas.paintEvent

    def tablet_event(event) -> None:
        handled[0] += 1
        original_tablet(event)

    def paint_event(event) -> None:
        start = time.perf_counter()
        original_paint(event)
        paint_ms.append((time.perf_counter() - start) * 1000)

    canvas.tabletEvent, canvas.paintEvent = tablet_event, paint_event
    if args.full_repaint:
        canvas.update = lambda *_args: QWidget.update(canvas)

    ticker = StallTicker()

    rect = canvas.image_rect()
    queue: list = []
    for n in range(args.strokes):
        y = rect.y() + rect.height() * (0.1 + 0.8 * n / max(1, args.strokes - 1))
        points = [
            (rect.x() + rect.width() * (0.05 + 0.9 * i / (EVENTS_PER_STROKE - 2)), y)
            for i in range(EVENTS_PER_STROKE - 1)
        ]
        queue += stroke_events(points)

    def post_next() -> None:
        if not queue:
            pen.stop()
            QTimer.singleShot(500, finish)
            return
        QCoreApplication.postEvent(canvas, queue.pop(0).clone())

    def finish() -> None:
        ticker.stop()
        app.quit()

    pen = QTimer()
    pen.setTimerType(Qt.TimerType.PreciseTimer)
    pen.setInterval(PEN_INTERVAL_MS)
    pen.timeout.connect(post_next)
    sent = len(queue)
    start_frames = worker.rendered_count
    ticker.start()
    pen.start()
    began = time.perf_counter()
    app.exec()
    seconds = time.perf_counter() - began
    frames = worker.rendered_count - start_frames
    window.close()
    worker.wait(30_000)
    stalls = ticker.stalls()
    print(json.dumps({
        "model": args.model,
        "full_repaint": args.full_repaint,
        "events_sent": sent,
        "events_handled": handled[0],
        "frames_rendered": frames,
        "seconds": round(seconds, 2),
        "stall_ms": {
            "p50": float(np.percentile(stalls, 50)),
            "p99": float(np.percentile(stalls, 99)),
            "max": float(stalls.max()),
        },
        "canvas_paint_ms": {
            "median": float(np.median(paint_ms)),
            "p99": float(np.percentile(paint_ms, 99)),
            "count": len(paint_ms),
        },
        "command": " ".join(["benchmarks/pen_events.py", *(argv or sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

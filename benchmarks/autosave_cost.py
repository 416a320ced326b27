"""What saving the sketch at every stroke's end costs: the UI thread's share (copying the
canvas and queueing the save) and the background thread's (PNG encoding, JSON, fsyncs).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/autosave_cost.py --strokes 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args(argv)

    import numpy as np
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from desktop_app.app import files
    from desktop_app.app.session import SessionKeeper
    from desktop_app.app.state import LiveState
    from desktop_app.ui.canvas import SketchCanvas

    app = QApplication.instance() or QApplication(sys.argv[:1])
    folder = Path(tempfile.mkdtemp(prefix="live-canvas-autosave-"))
    canvas = SketchCanvas(args.size)
    canvas.resize(args.size, args.size)
    keeper = SessionKeeper(LiveState(), folder)
    keeper.sketch_source = canvas.to_numpy
    rng = np.random.default_rng(0)
    ui_ms, write_ms = [], []
    original_save = files.Autosave.save

    def timed_save(self, sketch, session, *reference):
        start = time.perf_counter()
        original_save(self, sketch, session, *reference)
        write_ms.append((time.perf_counter() - start) * 1000)

    files.Autosave.save = timed_save
    for _ in range(args.strokes):
        points = rng.uniform(0, args.size, (8, 2))
        canvas.begin_stroke(QPointF(*points[0]))
        for point in points[1:]:
            canvas.continue_stroke(QPointF(*point))
        canvas.end_stroke()
        start = time.perf_counter()
        keeper.sketch_changed(False)  # what a stroke's end does
        ui_ms.append((time.perf_counter() - start) * 1000)
        keeper.wait()
        app.processEvents()
    size_kb = (folder / "autosave-sketch.png").stat().st_size / 1024

    def row(name: str, values: list[float]) -> str:
        p95 = statistics.quantiles(values, n=20)[-1]
        return f"{name:<34} median {statistics.median(values):6.2f} ms   p95 {p95:6.2f} ms"

    print(f"{args.strokes} strokes on a {args.size}x{args.size} canvas; "
          f"the autosaved sketch is {size_kb:.0f} KB")
    print(row("UI thread (copy + queue)", ui_ms))
    print(row("background (PNG + JSON + fsync)", write_ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""UI-thread stalls while the worker renders continuously and strokes are replayed.

A 1 ms QTimer runs on the UI thread; every gap between its ticks beyond 1 ms is time the event
loop could not run (painting, input). Meanwhile a stroke is replayed on the canvas through real
mouse events (about 120 events per second, as a quick hand would give), which keeps the worker
busy with frames for the whole run. Prints p50/p99/max of the gaps and the frames rendered.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/ui_stalls.py --model tiny --seconds 20
    .venv/bin/python benchmarks/ui_stalls.py --fake 0.2   # a fake engine taking 0.2 s a frame
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--device", default=None)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fake", type=float, default=None, metavar="SECONDS",
                        help="use a fake engine taking this long per frame instead of --model")
    parser.add_argument("--no-stroke-previews", action="store_true",
                        help="every frame at the full size, even while drawing (as before)")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QPoint, QSettings, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    import desktop_app.app  # noqa: F401 - the PySide6 refcount guard
    from desktop_app.app.settings import set_application_names
    # The fake engine is a test double: it lives with the tests, not in the product.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from doubles import FakeEngine, fake_loader
    from stall_ticker import StallTicker  # beside this script

    from desktop_app.ui.startup import create_window

    set_application_names()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="live-canvas-bench-"))
    loader = fake_loader(FakeEngine(delay_s=args.fake)) if args.fake is not None else None
    window = create_window(
        model="fake" if args.fake is not None else args.model, device=args.device, loader=loader,
        qsettings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat),
        data_dir=tmp / "data", restore=False,
    )
    window.resize(1100, 800)
    window.state.stroke_previews = not args.no_stroke_previews
    window.show()
    window.start()
    print(f"loading {args.model if args.fake is None else 'fake'}…", flush=True)
    loaded = {"ok": None}
    window.controller.gate.engine_loaded.connect(lambda info: loaded.update(ok=info))
    window.controller.gate.engine_failed.connect(lambda msg: loaded.update(ok=msg))
    while loaded["ok"] is None:
        app.processEvents()
        time.sleep(0.01)
    if isinstance(loaded["ok"], str):
        print(f"model did not load: {loaded['ok']}", file=sys.stderr)
        return 1
    print(f"loaded: {loaded['ok'].describe()}", flush=True)
    worker = window.controller.worker
    start_count = worker.rendered_count
    shown: list[tuple[int, float]] = []  # (size, model ms) of each frame shown
    window.controller.frames.result_shown.connect(
        lambda r: shown.append((r.params.size, r.timings.total_ms))
    )

    canvas = window.canvas
    rect = canvas.image_rect()
    ticker = StallTicker()

    state = {"n": 0, "down": False}

    def point(n: int) -> QPoint:
        t = n / 120.0
        x = 0.5 + 0.35 * math.sin(2.1 * t) * math.cos(0.7 * t)
        y = 0.5 + 0.35 * math.sin(1.3 * t + 0.5)
        return QPoint(int(rect.x() + rect.width() * x), int(rect.y() + rect.height() * y))

    def replay() -> None:  # 1.5 s strokes with 0.2 s pauses, ~120 pointer events a second
        n = state["n"]
        phase = n % 204
        if phase == 0:
            QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                             point(n))
        elif phase < 180:
            QTest.mouseMove(canvas, point(n))
        elif phase == 180:
            QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton,
                               Qt.KeyboardModifier.NoModifier, point(n))
            if canvas.undo_stack.count() > 20:
                canvas.clear()
        state["n"] = n + 1

    stroker = QTimer()
    stroker.setInterval(8)
    stroker.timeout.connect(replay)

    ticker.start()
    stroker.start()
    def finish() -> None:
        # Stop measuring before quitting: the last gap would otherwise span the shutdown.
        ticker.stop()
        stroker.stop()
        app.quit()

    QTimer.singleShot(int(args.seconds * 1000), finish)
    app.exec()
    frames = worker.rendered_count - start_count
    window.close()  # begins the close; a script has no event loop left, so wait here
    worker.wait(30_000)

    stalls = ticker.stalls()
    print(f"{args.seconds:.0f} s, {len(ticker.gaps)} ticks, {state['n']} pointer events, "
          f"{frames} frames rendered ({frames / args.seconds:.2f} fps)")
    print(f"UI-thread stall beyond the 1 ms tick: p50 {np.percentile(stalls, 50):.2f} ms, "
          f"p99 {np.percentile(stalls, 99):.2f} ms, max {stalls.max():.2f} ms")
    print(f"frames shown (strokes answered): {len(shown)} "
          f"({len(shown) / args.seconds:.2f} per second)")
    for size in sorted({s for s, _ in shown}, reverse=True):
        times = [ms for s, ms in shown if s == size]
        print(f"  {size} px: {len(times)} frames, median {np.median(times):.0f} ms each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

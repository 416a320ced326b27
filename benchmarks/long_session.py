"""A long drawing session: does the app's memory stay flat over thousands of strokes?

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/long_session.py --strokes 10000
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/long_session.py --model tiny

Builds the whole window (``create_window``, as the app does) on the fake engine (the test
double in tests/doubles.py: real frames of the right size, no torch, so what grows is the
app's own) or, with ``--model tiny`` (or any model the app loads), on the real engine, with
its settings and autosave in a temporary folder. Then it draws ``--strokes``
random polylines on the real canvas (begin/continue/end_stroke with points in widget
coordinates, events processed after every point so frames go out, render, show and pass
through the frame pacer and the autosave), and now and then undoes, redoes or clears through
the window's actions (what Ctrl+Z, Ctrl+Shift+Z and Delete trigger). Every ``--settle-every``
strokes it pauses for a frame to settle into the filmstrip.

Reports RSS at the start, after the first minute (or the first 1,000 strokes if sooner), every
``--report-every`` strokes and at the end; the growth from the first-minute point to the end
(target < 50 MB; exit code 2 when over); and the time per stroke. Strokes come as fast as the
machine draws them (tens of ms each), faster than a hand.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MB = 1024 * 1024
TARGET_GROWTH_MB = 50


def status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def open_window(app, tmp: Path, model: str):
    from PySide6.QtCore import QSettings

    from desktop_app.ui.startup import create_window

    loader = None  # the app's own: the real engine
    if model == "fake":
        # The fake engine is a test double: it lives with the tests, not in the product.
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from doubles import FakeEngine, fake_loader

        loader = fake_loader(FakeEngine())
    window = create_window(
        model=model,
        loader=loader,
        qsettings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat),
        data_dir=tmp / "data",
        restore=False,
    )
    window.resize(1100, 800)
    window.show()
    loaded: list = []
    window.controller.gate.engine_loaded.connect(loaded.append)
    window.controller.gate.engine_failed.connect(loaded.append)
    window.start()
    wait_for(app, lambda: bool(loaded), 600)
    if not loaded or isinstance(loaded[0], str):
        raise SystemExit(f"the model {model} did not load: {loaded}")
    return window


def wait_for(app, done, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while not done() and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.002)


class Scribbler:
    """Random strokes on the window's canvas, and the odd undo, redo or clear."""

    def __init__(self, app, window, seed: int) -> None:
        self.app, self.window = app, window
        self.canvas = window.canvas
        self.rng = np.random.default_rng(seed)

    def stroke(self) -> None:
        from PySide6.QtCore import QPointF

        rng, canvas, area = self.rng, self.canvas, self.canvas.image_rect()
        canvas.tool = "eraser" if rng.random() < 0.1 else "brush"
        canvas.brush_size = int(rng.choice([2, 4, 6, 10, 20, 40]))
        n_points = int(rng.integers(2, 40))
        step = float(rng.choice([3.0, 10.0, 30.0]))  # short wiggles to strokes across the page
        size = np.array([area.width() - 1, area.height() - 1], float)
        xy = rng.uniform(0, 1, 2) * size
        pressure = rng.uniform(0.3, 1.0, n_points)
        canvas.begin_stroke(QPointF(area.x() + xy[0], area.y() + xy[1]), float(pressure[0]))
        for p in pressure[1:]:
            xy = np.clip(xy + rng.normal(0, step, 2), 0, size)
            canvas.continue_stroke(QPointF(area.x() + xy[0], area.y() + xy[1]), float(p))
            self.app.processEvents()  # pointer events arrive one by one: let the pacer run
        canvas.end_stroke()
        self.app.processEvents()

    def maybe_edit(self) -> None:
        roll, window = self.rng.random(), self.window
        if roll < 0.05:
            for _ in range(int(self.rng.integers(1, 6))):
                window.undo_action.trigger()
        elif roll < 0.07:
            window.redo_action.trigger()
        elif roll < 0.075:
            window.clear_action.trigger()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="fake", help="fake (the test double, default), tiny, or any model"
    )
    parser.add_argument("--strokes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--settle-every", type=int, default=250, metavar="N")
    parser.add_argument("--report-every", type=int, default=1000, metavar="N")
    args = parser.parse_args(argv)
    if min(args.strokes, args.settle_every, args.report_every) < 1:
        parser.error("--strokes, --settle-every and --report-every must be at least 1")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    import desktop_app.app  # noqa: F401 - the PySide6 refcount guard
    from desktop_app.app.settings import set_application_names

    set_application_names()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = open_window(app, Path(tempfile.mkdtemp(prefix="live-canvas-long-")), args.model)
    scribbler = Scribbler(app, window, args.seed)
    samples, stroke_ms = run_strokes(app, window, scribbler, args)
    report(samples, stroke_ms, window, args)
    window.close()
    session = window.controller.session
    wait_for(app, lambda: not session.busy, 60)
    growth = (samples[-1][3] - next(s for s in samples if s[0].startswith("first"))[3]) / MB
    return 0 if growth < TARGET_GROWTH_MB else 2


def run_strokes(app, window, scribbler: Scribbler, args) -> tuple[list[tuple], list[float]]:
    """Draw; returns (label, strokes, seconds, RSS bytes) samples and each stroke's ms."""
    samples: list[tuple] = []
    stroke_ms: list[float] = []
    start = time.perf_counter()

    def sample(label: str, done: int) -> None:
        samples.append((label, done, time.perf_counter() - start, status_kb("VmRSS") * 1024))
        canvas, history = window.canvas, window.controller.history
        print(
            f"{label:>12}: {done:6d} strokes, {samples[-1][2]:7.1f} s, "
            f"RSS {samples[-1][3] / MB:7.1f} MB, undo {canvas.undo_stack.count():3d} steps / "
            f"{canvas.undo_bytes() / MB:5.1f} MB, filmstrip {len(history.entries):2d}",
            file=sys.stderr,
            flush=True,
        )

    sample("start", 0)
    first_taken = False
    for n in range(1, args.strokes + 1):
        t0 = time.perf_counter()
        scribbler.stroke()
        stroke_ms.append((time.perf_counter() - t0) * 1000)
        scribbler.maybe_edit()
        if n % args.settle_every == 0:
            settle = time.perf_counter() + 1.0  # the filmstrip takes a frame after 0.7 s
            wait_for(app, lambda settle=settle: time.perf_counter() > settle, 2)
        if not first_taken and (n >= 1000 or time.perf_counter() - start >= 60):
            sample("first minute" if n < 1000 else "first 1000", n)
            first_taken = True
        elif n % args.report_every == 0:
            sample("", n)
    wait_for(app, lambda: not window.controller.session.busy, 60)
    sample("end", args.strokes)
    if not first_taken:
        samples.insert(1, ("first (start)", 0, 0.0, samples[0][3]))
    return samples, stroke_ms


def report(samples: list[tuple], stroke_ms: list[float], window, args) -> None:
    first = next(s for s in samples if s[0].startswith("first"))
    end = samples[-1]
    canvas, history = window.canvas, window.controller.history
    print(
        f"{args.strokes} strokes (seed {args.seed}) in {end[2]:.1f} s, whole window, "
        f"model {args.model}"
    )
    print("| point | strokes | time s | RSS MB |")
    print("|---|---|---|---|")
    for label, done, seconds, rss in samples:
        print(f"| {label or '…'} | {done} | {seconds:.1f} | {rss / MB:.1f} |")
    print(
        f"growth from {first[1]} strokes to the end: {(end[3] - first[3]) / MB:+.1f} MB "
        f"(target < {TARGET_GROWTH_MB} MB); peak RSS {status_kb('VmHWM') / 1024:.1f} MB"
    )
    ms = np.array(stroke_ms)
    print(
        f"per stroke (draw + events): median {np.median(ms):.1f} ms, "
        f"p99 {np.percentile(ms, 99):.1f} ms"
    )
    print(
        f"undo: {canvas.undo_stack.count()} steps, {canvas.undo_bytes() / MB:.2f} MB compressed; "
        f"filmstrip: {len(history.entries)} entries; "
        f"frames rendered: {window.controller.worker.rendered_count}"
    )


if __name__ == "__main__":
    raise SystemExit(main())

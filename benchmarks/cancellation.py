"""Cancelling a frame inside the model forwards: what the armed hooks cost when they never
fire, how soon a frame stops once told to, and how long a whole frame takes.

    .venv/bin/python benchmarks/cancellation.py --model random:sd21 --size 512
    .venv/bin/python benchmarks/cancellation.py --model tiny --size 512 --frames 20 --json
    .venv/bin/python benchmarks/cancellation.py --model random:sdxl --switch-to tiny --json

Every figure times real engine frames (``Engine.render``) of one loaded model, in one process:

* hook cost: rounds of one frame per configuration, the order reversed every other round so
  that a slow drift falls on all of them alike: the hooks removed
  (``engine.cancel_points.remove()``, registered again afterwards, untimed), armed with a
  check that always says no, and armed with the render worker's own check
  (``RenderWorker._should_cancel``, set up so that it runs its whole test and says no). The
  difference is reported as the median of per-round differences, which cancels load swings,
  and, because a frame's noise is far larger than a few hundred Python calls, also modelled:
  hook calls per frame times the cost of one hooked call, timed on a module that does nothing.
* cancel points: one frame with a check that notes the time of every call: the longest gap
  between two calls bounds the latency of a cancel inside the models; the stretch after the
  last call (the decoder's last convolutions, the uint8 conversion) has no cancel point, so a
  cancel asked for there lets the frame end.
* cancel latency: frames whose check turns yes at a set moment, set from another thread by a
  timer (as the UI thread does in the app), the moments spread over the whole frame; the
  latency is from the flag being set to ``RenderCancelled`` reaching the caller.
* the worker's frame-time estimate (weight 0.3 on the newest frame, as in worker.py) replayed
  over the timed frames: how far off the remaining time it judges a frame by can be.

The sketch gains a stroke segment every frame and the prompt stays, as while drawing.

With ``--switch-to MODEL`` it measures only how soon a new model choice is served: the real
render worker (``RenderWorker``, the real loader) loads ``--model``; another model is chosen
(``load_model``, from this thread, as the window does from the UI thread) at moments spread
over a frame of it and over its load, and the time is taken from the choice to the worker
calling the loader for the new model (``choice → new load``: the frame or load stopping,
the old model freed, the loader called). Every sample starts from a fresh load of
``--model``; the load samples' moments are spread over a whole load timed after the first
(which also imports the engine).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shlex
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator

PROMPT = "a lighthouse on a cliff at dusk, watercolour"
MICRO_CALLS = 20_000
_KEEP: list = []  # the worker whose check is timed: the QObject must outlive its bound method


@contextlib.contextmanager
def _hooks_removed(engine) -> Iterator[None]:
    from desktop_app.engine.cancellation import CancelPoints, cancellable_models

    count = engine.cancel_points.count
    engine.cancel_points.remove()
    try:
        yield
    finally:
        engine.cancel_points = CancelPoints(cancellable_models(engine.parts))
        assert engine.cancel_points.count == count


def _worker_check() -> Callable[[], bool]:
    """The render worker's ``_should_cancel``, made to run its whole test and answer no: a
    settled request is pending and a frame time is known, but the frame is over its estimate."""
    import numpy as np

    from desktop_app.app.worker import RenderWorker
    from desktop_app.core.types import RenderRequest

    worker = RenderWorker(loader=lambda *_args, **_kwargs: None)
    settled = RenderRequest(sketch=np.full((128, 128, 3), 255, np.uint8), prompt=PROMPT, size=128)
    worker._pending = (settled, False, True)
    worker._in_flight = settled
    worker._frame_s = {settled.size: 0.0}
    worker._frame_started = time.monotonic()
    assert worker._should_cancel() is False
    _KEEP.append(worker)
    return worker._should_cancel


def _never() -> bool:
    return False


def micro_hook_us(worker_check: Callable[[], bool]) -> dict[str, float]:
    """Microseconds per call of a module that does nothing: bare, with one disarmed
    cancel point, armed with an always-no check, armed with the worker's check."""
    import torch

    from desktop_app.engine.cancellation import CancelPoints

    # CancelPoints finds blocks by class name: a do-nothing module of a hooked name.
    block_class = type("ResnetBlock2D", (torch.nn.Module,), {"forward": lambda self, x: x})
    block = block_class()
    x = torch.zeros(1)

    def per_call() -> float:
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(MICRO_CALLS):
                block(x)
            best = min(best, (time.perf_counter() - start) / MICRO_CALLS * 1e6)
        return best

    out = {"no hook": per_call()}
    points = CancelPoints((block,))
    assert points.count == 1
    out["hook, disarmed"] = per_call()
    with points.armed(_never):
        out["hook, armed: always no"] = per_call()
    with points.armed(worker_check):
        out["hook, armed: the worker's check"] = per_call()
    points.remove()
    return {name: round(us, 3) for name, us in out.items()}


class PollClock:
    """A ``should_cancel`` that notes when it is asked, and after which block, and says no.

    The block's name comes from a pre-hook put in front of each cancel point's (``prepend``),
    so at each check ``current`` already names the block about to run."""

    def __init__(self, models) -> None:
        from desktop_app.engine.cancellation import _BLOCKS

        self.times: list[tuple[float, str]] = []
        self.current = "the renderer (between steps, or between the models)"
        self._handles = []
        for prefix, model in models:
            for name, module in model.named_modules():
                if type(module).__name__ in _BLOCKS:
                    label = f"{prefix}.{name} ({type(module).__name__})"
                    self._handles.append(
                        module.register_forward_pre_hook(self._naming(label), prepend=True)
                    )

    def _naming(self, label: str):
        def hook(_module, _args) -> None:
            self.current = label

        return hook

    def __call__(self) -> bool:
        self.times.append((time.perf_counter(), self.current))
        self.current = "the renderer (between steps, or between the models)"
        return False

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


class TimedFlag:
    """A ``should_cancel`` that turns yes when a timer thread sets it, ``delay_s`` after
    ``start()``; ``flipped_at`` is when it did."""

    def __init__(self, delay_s: float) -> None:
        self._flag = False
        self.flipped_at: float | None = None
        self._timer = threading.Timer(delay_s, self._flip)

    def _flip(self) -> None:
        self.flipped_at = time.perf_counter()
        self._flag = True

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.cancel()
        self._timer.join()

    def __call__(self) -> bool:
        return self._flag


def replay_estimate(frames_s: list[float], weight: float) -> list[float]:
    """|frame time − the worker's estimate before that frame|, in ms, from the second frame."""
    errors, estimate = [], None
    for took in frames_s:
        if estimate is not None:
            errors.append(abs(took - estimate) * 1000.0)
        estimate = took if estimate is None else (1 - weight) * estimate + weight * took
    return errors


def run(
    model: str,
    size: int,
    frames: int,
    cancels: int,
    device: str | None,
    seed: int = 0,
    say=print,
    command: str = "",
) -> dict:
    import torch

    from desktop_app.app.worker import _FRAME_TIME_WEIGHT, SUPERSEDE_MIN_REMAINING_S
    from desktop_app.bench.common import StrokeSketch, load_average
    from desktop_app.core.errors import RenderCancelled
    from desktop_app.core.types import RenderRequest
    from desktop_app.engine.loading import load_engine

    say(f"loading {model}")
    load_before = load_average()
    start = time.perf_counter()
    engine = load_engine(model, device=device)
    load_s = time.perf_counter() - start
    if engine.cancel_points.count == 0:
        raise SystemExit("this engine has no cancel points (a compiled engine?)")
    sketches = StrokeSketch(size)

    def request() -> RenderRequest:
        return RenderRequest(sketch=sketches.next(), prompt=PROMPT, size=size)

    def timed(should_cancel=None) -> tuple[float, object]:
        req = request()
        t0 = time.perf_counter()
        result = engine.render(req, should_cancel=should_cancel)
        return (time.perf_counter() - t0) * 1000.0, result

    worker_check = _worker_check()
    say("warm-up frame")
    warmup_ms, _ = timed()

    # -- hook cost: rounds of one frame per configuration ------------------------------------
    configs: dict[str, Callable[[], tuple[float, object]]] = {}

    def removed():
        with _hooks_removed(engine):
            return timed()

    configs["hooks removed"] = removed
    configs["armed, always no"] = lambda: timed(_never)
    configs["armed, the worker's check"] = lambda: timed(worker_check)
    times: dict[str, list[float]] = {name: [] for name in configs}
    breakdown: list[dict] = []
    sequence_s: list[float] = []  # every timed frame, in order, for the estimate replay
    names = list(configs)
    for round_index in range(frames):
        for name in names if round_index % 2 == 0 else names[::-1]:
            ms, result = configs[name]()
            times[name].append(round(ms, 2))
            sequence_s.append(ms / 1000.0)
            t = result.timings
            breakdown.append({"denoise_ms": t.denoise_ms, "decode_ms": t.decode_ms})
        say(f"hook cost: round {round_index + 1}/{frames} done")
    medians = {name: round(statistics.median(v), 2) for name, v in times.items()}
    base = times["hooks removed"]
    paired = {
        name: round(statistics.median(a - b for a, b in zip(v, base, strict=True)), 2)
        for name, v in times.items()
        if name != "hooks removed"
    }
    frame_ms = statistics.median(times["armed, the worker's check"])

    # -- where the cancel points fall within a frame -----------------------------------------
    parts = engine.parts
    named_models = (("unet", parts.unet), ("controlnet", parts.controlnet), ("tae", parts.tae))
    clock = PollClock(tuple((name, m) for name, m in named_models if m is not None))
    t0 = time.perf_counter()
    engine.render(request(), should_cancel=clock)
    t_end = time.perf_counter()
    clock.close()
    polls = [t for t, _ in clock.times]
    gaps = [(b - a) * 1000.0 for a, b in zip(polls, polls[1:], strict=False)]
    named = sorted(((gap, clock.times[i][1]) for i, gap in enumerate(gaps)), reverse=True)
    covered = sum(gaps)
    points = {
        "calls_per_frame": len(polls),
        "hooks": engine.cancel_points.count,
        "before_first_ms": round((polls[0] - t0) * 1000.0, 2),
        "longest_gap_ms": round(max(gaps), 2),
        "median_gap_ms": round(statistics.median(gaps), 3),
        # a flip at a moment uniformly within the checked span waits, on average, this long
        "expected_wait_ms": round(sum(g * g for g in gaps) / (2 * covered), 2),
        "longest_gaps": [{"ms": round(g, 2), "after": name} for g, name in named[:5]],
        "after_last_ms": round((t_end - polls[-1]) * 1000.0, 2),
        "frame_ms": round((t_end - t0) * 1000.0, 2),
    }

    # -- cancel latency: flips at moments spread over the whole frame -------------------------
    rng = random.Random(seed)
    delays = [(i + rng.random()) / cancels * frame_ms / 1000.0 for i in range(cancels)]
    rng.shuffle(delays)
    latencies, finished = [], []
    for n, delay in enumerate(delays):
        req = request()
        flag = TimedFlag(delay)
        flag.start()
        try:
            engine.render(req, should_cancel=flag)
        except RenderCancelled:
            raised = time.perf_counter()
            latencies.append(
                {"at_ms": round(delay * 1000.0, 1), "latency_ms": (raised - flag.flipped_at) * 1e3}
            )
        else:
            finished.append(round(delay * 1000.0, 1))  # flipped after the last cancel point
        finally:
            flag.stop()
        say(f"cancel latency: frame {n + 1}/{cancels} done")
    lat = [x["latency_ms"] for x in latencies]

    errors = replay_estimate(sequence_s, _FRAME_TIME_WEIGHT)
    micro = micro_hook_us(worker_check)
    per_call_cost = micro["hook, armed: the worker's check"] - micro["no hook"]
    return {
        "model": model,
        "size": size,
        "device": str(engine.device),
        "dtype": engine.info.dtype,
        "torch_threads": torch.get_num_threads(),
        "load_s": round(load_s, 1),
        "load_average": [load_before, load_average()],  # 1-minute, before and after
        "rounds": frames,
        "warmup_ms": round(warmup_ms, 2),
        "hook_cost": {
            "hooks": engine.cancel_points.count,
            "median_ms": medians,
            "paired_difference_ms": paired,
            "difference_of_medians_ms": {
                name: round(ms - medians["hooks removed"], 2)
                for name, ms in medians.items()
                if name != "hooks removed"
            },
            "micro_us_per_call": micro,
            "modelled_ms_per_frame": round(points["calls_per_frame"] * per_call_cost / 1e3, 3),
            "frames_ms": times,
        },
        "cancel_points": points,
        "cancel_latency": {
            "cancelled": len(lat),
            "finished": len(finished),
            "median_ms": round(statistics.median(lat), 2) if lat else None,
            "max_ms": round(max(lat), 2) if lat else None,
            "frames": [dict(x, latency_ms=round(x["latency_ms"], 2)) for x in latencies],
            "finished_at_ms": finished,
        },
        "frame": {
            "median_ms": round(frame_ms, 2),
            "min_ms": round(min(sequence_s) * 1000.0, 2),
            "max_ms": round(max(sequence_s) * 1000.0, 2),
            "denoise_median_ms": round(statistics.median(b["denoise_ms"] for b in breakdown), 2),
            "decode_median_ms": round(statistics.median(b["decode_ms"] for b in breakdown), 2),
            "estimate_error_median_ms": round(statistics.median(errors), 2) if errors else None,
            "estimate_error_max_ms": round(max(errors), 2) if errors else None,
        },
        "supersede_min_remaining_ms": SUPERSEDE_MIN_REMAINING_S * 1000.0,
        "command": command,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class TimedLoads:
    """The worker's loader: notes when each model is asked for and how its load ended, and
    loads with the real loader; the frames of ``watched`` note when they start and end."""

    def __init__(self, device: str | None, watched: str) -> None:
        self.device, self.watched = device, watched
        self.asked: list[tuple[str, float]] = []
        self.ended: list[tuple[str, str]] = []  # (model, "loaded" or the exception's name)
        self.frames: list[tuple[float, str]] = []  # (start, "running" / "cancelled" / ...)
        self.changed = threading.Condition()

    def __call__(self, model: str, device=None, progress=None):
        from desktop_app.app import engine_api

        with self.changed:
            self.asked.append((model, time.perf_counter()))
            self.changed.notify_all()
        try:
            engine = engine_api.load_engine(model, device=self.device, progress=progress)
        except BaseException as err:
            self._note(self.ended, (model, type(err).__name__))
            raise
        self._note(self.ended, (model, "loaded"))
        return FrameTimer(engine, self) if model == self.watched else engine

    def _note(self, where: list, what: tuple, replace: bool = False) -> None:
        with self.changed:
            if replace:
                where[-1] = what
            else:
                where.append(what)
            self.changed.notify_all()

    def wait(self, test: Callable[[], bool], timeout_s: float = 900.0) -> None:
        with self.changed:
            if not self.changed.wait_for(test, timeout_s):
                raise SystemExit("the worker did not get there in time")

    def load(self, worker, model: str) -> tuple[float, str]:
        """Choose ``model`` now and wait for its load: (ms from the choice until the worker
        asked the loader for it, how that load ended). Every loader call notes one ask and
        one end, in order, so the n-th end is the n-th ask's."""
        chosen = time.perf_counter()
        worker.load_model(model, self.device)
        self.wait(lambda: self._ask_index(model, chosen) is not None)
        index = self._ask_index(model, chosen)
        self.wait(lambda: len(self.ended) > index)
        return (self.asked[index][1] - chosen) * 1000.0, self.ended[index][1]

    def _ask_index(self, model: str, since: float) -> int | None:
        found = (i for i, (m, t) in enumerate(self.asked) if m == model and t >= since)
        return next(found, None)


class FrameTimer:
    """An engine whose frames note when they start and how they end."""

    def __init__(self, engine, loads: TimedLoads) -> None:
        self._engine, self._loads = engine, loads

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def render(self, request, should_cancel=None):
        from desktop_app.core.errors import RenderCancelled

        start = time.perf_counter()
        self._loads._note(self._loads.frames, (start, "running"))
        how = "finished"
        try:
            return self._engine.render(request, should_cancel=should_cancel)
        except RenderCancelled:
            how = "cancelled"
            raise
        finally:
            self._loads._note(self._loads.frames, (start, how), replace=True)


def _loaded(loads: TimedLoads, worker, model: str) -> float:
    """Choose ``model`` and wait until it has loaded; ms from the choice to its load."""
    ms, how = loads.load(worker, model)
    if how != "loaded":
        raise SystemExit(f"{model} did not load: {how}")
    return ms


def switch_latency(
    model: str, target: str, size: int, samples: int, device: str | None, seed: int, say=print
) -> dict:
    """Choice → new load, at moments spread over a frame of ``model`` and over its load.
    Every sample starts from a fresh load of ``model``, which the worker then frees, as in
    the app."""
    from PySide6.QtCore import QCoreApplication

    from desktop_app.app.worker import RenderWorker
    from desktop_app.bench.common import StrokeSketch
    from desktop_app.core.types import RenderRequest

    _KEEP.append(QCoreApplication.instance() or QCoreApplication([]))  # for the QThread
    rng = random.Random(seed)
    loads = TimedLoads(device, model)
    worker = RenderWorker(loads)
    sketches = StrokeSketch(size)
    ids = iter(range(1, 1_000_000))

    def frame(delay_s: float | None) -> tuple[float | None, str]:
        """A frame of ``model``; with ``delay_s``, ``target`` is chosen that far into it."""
        count = len(loads.frames)
        request = RenderRequest(sketches.next(), prompt=PROMPT, size=size, request_id=next(ids))
        worker.submit(request, force=True)
        loads.wait(lambda: len(loads.frames) > count)
        if delay_s is None:
            loads.wait(lambda: loads.frames[count][1] != "running")
            return None, loads.frames[count][1]
        time.sleep(max(0.0, loads.frames[count][0] + delay_s - time.perf_counter()))
        ms = _loaded(loads, worker, target)
        return ms, loads.frames[count][1]

    say(f"loading {model} (the first load imports the engine)")
    _loaded(loads, worker, model)
    say("warm-up frame")
    frame(None)
    t0 = time.perf_counter()
    frame(None)
    frame_s = time.perf_counter() - t0
    during_frame = []
    delays = [(i + rng.random()) / samples * frame_s for i in range(samples)]
    for n, delay in enumerate(delays):
        if n:
            _loaded(loads, worker, model)
        ms, how = frame(delay)
        during_frame.append({"at_s": round(delay, 2), "ms": round(ms, 1), "frame": how})
        say(f"frame sample {n + 1}/{samples}: {ms:.0f} ms ({how})")
    t0 = time.perf_counter()
    _loaded(loads, worker, model)
    load_s = time.perf_counter() - t0
    say(f"a whole load of {model}: {load_s:.1f} s")
    during_load = []
    delays = [(i + rng.random()) / samples * load_s for i in range(samples)]
    for n, delay in enumerate(delays):
        count = len(loads.asked)
        worker.load_model(model, device)
        loads.wait(lambda count=count: len(loads.asked) > count)
        time.sleep(max(0.0, loads.asked[count][1] + delay - time.perf_counter()))
        ms = _loaded(loads, worker, target)
        how = loads.ended[count][1]
        during_load.append({"at_s": round(delay, 2), "ms": round(ms, 1), "load": how})
        say(f"load sample {n + 1}/{samples}: {ms:.0f} ms ({how})")
    worker.stop(10_000)
    both = [x["ms"] for x in during_frame + during_load]
    return {
        "model": model,
        "switch_to": target,
        "size": size,
        "device": device or "default",
        "load_s": round(load_s, 1),
        "frame_s": round(frame_s, 1),
        "during_frame": during_frame,
        "during_load": during_load,
        "max_ms": max(both),
        "median_ms": round(statistics.median(both), 1),
        # chosen after the frame's last cancel point (or the load's last progress): it ended
        "not_stopped": sum(x["frame"] == "finished" for x in during_frame)
        + sum(x["load"] == "loaded" for x in during_load),
    }


def switch_table(r: dict) -> str:
    def cell(samples: list[dict], key: str) -> str:
        return ", ".join(f"{x['ms']:.0f} ms at {x['at_s']:.1f} s ({x[key]})" for x in samples)

    return "\n".join(
        [
            f"choosing {r['switch_to']} while {r['model']} works (frame {r['size']}: "
            f"{r['frame_s']:.1f} s; load {r['load_s']:.1f} s); choice → new load:",
            f"- during a frame: {cell(r['during_frame'], 'frame')}",
            f"- during the load: {cell(r['during_load'], 'load')}",
            f"- median {r['median_ms']:.0f} ms, max {r['max_ms']:.0f} ms",
        ]
    )


def table(r: dict) -> str:
    h, p, lat, f = r["hook_cost"], r["cancel_points"], r["cancel_latency"], r["frame"]
    lines = [
        f"{r['model']} at {r['size']} on {r['device']} ({r['dtype']}, {r['torch_threads']} "
        f"threads), {r['rounds']} rounds after 1 warm-up; {h['hooks']} hooks, "
        f"{p['calls_per_frame']} checks per frame; 1-min load average "
        f"{r['load_average'][0]} → {r['load_average'][1]}",
        "",
        "| measure | value |",
        "|---|---|",
    ]
    for name, ms in h["median_ms"].items():
        extra = ""
        if name in h["paired_difference_ms"]:
            extra = f" (vs removed: paired {h['paired_difference_ms'][name]:+.2f} ms)"
        lines.append(f"| frame, {name} | {ms:.1f} ms{extra} |")
    lines += [
        f"| one call of a do-nothing block, {name} | {us:.2f} µs |"
        for name, us in h["micro_us_per_call"].items()
    ]
    lines += [
        f"| modelled hook cost per frame (checks × extra per call, worker's check) | "
        f"{h['modelled_ms_per_frame']:.3f} ms |",
        f"| frame start → first check | {p['before_first_ms']:.1f} ms |",
        f"| longest / median gap between checks | {p['longest_gap_ms']:.1f} / "
        f"{p['median_gap_ms']:.2f} ms |",
        f"| expected wait for a flip at a random moment between checks (Σgap² / 2Σgap) | "
        f"{p['expected_wait_ms']:.1f} ms |",
        f"| longest gap follows the check before | {p['longest_gaps'][0]['after']} |",
        f"| last check → frame end (no check after it) | {p['after_last_ms']:.1f} ms |",
        f"| cancel latency, flag set → RenderCancelled: median / max | "
        f"{_ms(lat['median_ms'])} / {_ms(lat['max_ms'])} ({lat['cancelled']} cancelled, "
        f"{lat['finished']} flipped after the last check and finished) |",
        f"| whole frame: median (min–max) | {f['median_ms']:.1f} ({f['min_ms']:.1f}–"
        f"{f['max_ms']:.1f}) ms; denoise {f['denoise_median_ms']:.1f}, decode "
        f"{f['decode_median_ms']:.1f} |",
        f"| worker's frame-time estimate off by: median / max | "
        f"{_ms(f['estimate_error_median_ms'])} / {_ms(f['estimate_error_max_ms'])} |",
    ]
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random:sd21")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument(
        "--frames", type=int, default=3, help="timed rounds of the hook cost (default 3)"
    )
    parser.add_argument(
        "--cancels", type=int, default=6, help="frames cancelled at a set moment (default 6)"
    )
    parser.add_argument("--seed", type=int, default=0, help="for the moments of the cancels")
    parser.add_argument("--device", default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--switch-to",
        metavar="MODEL",
        help="measure only a model choice's wait: MODEL chosen during --model's frames and "
        "loads (--cancels moments of each)",
    )
    args = parser.parse_args(argv)
    if args.frames < 1 or args.cancels < 1 or args.size < 64 or args.size % 64:
        parser.error("--frames and --cancels must be at least 1, --size a multiple of 64")
    import desktop_app  # noqa: F401 - sets OMP_WAIT_POLICY before torch loads

    command = shlex.join(
        ["benchmarks/cancellation.py", *(argv if argv is not None else sys.argv[1:])]
    )
    if args.switch_to:
        report = switch_latency(
            args.model,
            args.switch_to,
            args.size,
            args.cancels,
            args.device,
            args.seed,
            say=lambda msg: print(msg, file=sys.stderr),
        )
        report.update(command=command, date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        print(json.dumps(report, indent=2) if args.json else switch_table(report))
        return 0
    report = run(
        args.model,
        args.size,
        args.frames,
        args.cancels,
        args.device,
        seed=args.seed,
        say=lambda msg: print(msg, file=sys.stderr),
        command=command,
    )
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

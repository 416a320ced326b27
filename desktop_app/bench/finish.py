"""``live-canvas bench --finish``: the finishing pass (``engine/finish.py``) timed on the chosen
model, with its peak memory, between two runs of live frames so that one report shows whether
the live loop is any slower for it.

Order: ``warmup`` untimed frames, ``frames`` timed frames ("before"), ``finish_warmup`` untimed
finishes (first calls at the new size: allocator growth, cuDNN's algorithm search), ``finishes``
timed finishes of the latest frame's picture, then ``frames`` timed frames again ("after").

Peak memory of a finish: on CUDA ``torch.cuda.max_memory_allocated`` after resetting the peak
before it (tensors torch allocated, weights included); on a CPU the process's peak resident
memory while it ran (VmHWM, reset through ``/proc/self/clear_refs`` before it; where Linux does
not allow that, the process's peak so far), weights included. ``MemoryProbe`` (``tools.py``)
measures both; ``memory_method`` in the report says which one ran.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from desktop_app.bench.common import StrokeSketch, load_average
from desktop_app.bench.tools import MemoryProbe
from desktop_app.core.types import (
    DEFAULT_FINISH_SCALE,
    DEFAULT_FINISH_STEPS,
    DEFAULT_FINISH_STRENGTH,
    FinishRequest,
    FrameResult,
    RenderRequest,
)
from desktop_app.engine.device import pick_placement

PROMPT = "a lighthouse on a cliff at dusk, watercolour"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class FinishBenchConfig:
    model: str
    size: int = 512
    frames: int = 10
    warmup: int = 2
    device: str | None = None
    dtype: str | None = None
    compile: bool = False
    scale: float = DEFAULT_FINISH_SCALE
    steps: int = DEFAULT_FINISH_STEPS
    strength: float = DEFAULT_FINISH_STRENGTH
    finishes: int = 1
    finish_warmup: int = 0


def run_finish_benchmark(config: FinishBenchConfig, progress: Progress | None = None) -> dict:
    """Load, time frames, finishes, frames again: the report's measurements."""
    from desktop_app.engine import finish as finishing
    from desktop_app.engine.loading import load_parts
    from desktop_app.engine.renderer import Engine

    say = progress or (lambda _msg: None)
    placement = pick_placement(config.device, config.dtype)
    say(f"loading {config.model} ({placement.dtype_name}) on {placement.device}")
    engine = Engine(load_parts(config.model, placement.dtype), placement,
                    compile_models=config.compile)
    sketches = StrokeSketch(config.size)
    probe = MemoryProbe(placement.device)
    loads = [load_average()]

    def frames(count: int, label: str) -> tuple[list[float], FrameResult | None]:
        times: list[float] = []
        result = None
        for index in range(count):
            sketch = sketches.next()
            start = time.perf_counter()
            result = engine.render(RenderRequest(sketch=sketch, prompt=PROMPT, size=config.size))
            times.append(round((time.perf_counter() - start) * 1000.0, 2))
            say(f"{label} {index + 1}/{count}: {times[-1]:.0f} ms")
        return times, result

    frames(config.warmup, "warm-up frame")
    before, frame = frames(config.frames, "frame (before finishing)")
    assert frame is not None  # frames >= 1
    request = FinishRequest(
        picture=frame.image,
        sketch=sketches.image.copy(),
        prompt=PROMPT,
        scale=config.scale,
        steps=config.steps,
        strength=config.strength,
    )
    target = request.target_size
    tiled = finishing.needs_tiles(engine, target)
    finish_ms, peaks, rise, stages = [], [], [], []
    for index in range(config.finish_warmup + config.finishes):
        warm = index < config.finish_warmup
        resident = probe.current_mb()
        probe.begin()
        start = time.perf_counter()
        result = engine.finish(request)
        ms = round((time.perf_counter() - start) * 1000.0, 2)
        peak, _after = probe.end()
        label = "warm-up finish" if warm else "finish"
        say(f"{label} {config.size}->{target}: {ms:.0f} ms, peak {peak:.0f} MiB")
        if not warm:
            finish_ms.append(ms)
            peaks.append(round(peak, 1))
            rise.append(round(peak - resident, 1))
            stages.append(asdict(result.timings))
    after, _ = frames(config.frames, "frame (after finishing)")
    loads.append(load_average())
    before_ms, after_ms = _median(before), _median(after)
    return {
        "model": config.model,
        "device": str(placement.device),
        "dtype": placement.dtype_name,
        "size": config.size,
        "frames": config.frames,
        "warmup": config.warmup,
        "compile": config.compile,
        "finish": {
            "from": config.size,
            "to": target,
            "scale": config.scale,
            "steps": config.steps,
            "strength": config.strength,
            "steps_run": int(config.steps * config.strength),
            "runs": config.finishes,
            "warmup_runs": config.finish_warmup,
            "ms": finish_ms,
            "median_ms": _median(finish_ms),
            "stages_ms": stages,
            "peak_mem_mb": max(peaks) if peaks else None,
            "peak_over_resident_mb": max(rise) if rise else None,
            "decode_tiled": tiled,
        },
        "memory_method": probe.method,
        "frames_before_ms": before,
        "frames_after_ms": after,
        "frame_before_median_ms": before_ms,
        "frame_after_median_ms": after_ms,
        "frame_after_over_before": round(after_ms / before_ms, 4)
        if before_ms and after_ms
        else None,
        "load_average": loads,
    }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def summary_text(report: dict) -> str:
    f, machine = report["finish"], report.get("machine", {})
    hardware = machine.get("gpu", machine.get("cpu", ""))
    median = "-" if f["median_ms"] is None else f"{f['median_ms'] / 1000:.2f} s"
    peak = "-" if f["peak_mem_mb"] is None else f"{f['peak_mem_mb']:.0f} MiB"
    lines = [
        f"{report['model']} on {report['device']} ({hardware}, {report['dtype']}), "
        f"{report.get('date', '')}",
        f"  finish {f['from']}x{f['from']} -> {f['to']}x{f['to']} (x{f['scale']:g}, "
        f"{f['steps']} steps at {f['strength']:g}: {f['steps_run']} run, decode "
        f"{'tiled' if f['decode_tiled'] else 'whole'}): median {median} over {f['runs']}; "
        f"peak memory {peak} ({f['peak_over_resident_mb']} MiB over what was resident)",
        f"  live frames before finishing: median {report['frame_before_median_ms']} ms; "
        f"after: {report['frame_after_median_ms']} ms "
        f"(after/before {report['frame_after_over_before']})",
        f"  memory: {report['memory_method']}",
    ]
    return "\n".join(lines)

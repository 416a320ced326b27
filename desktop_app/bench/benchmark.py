"""The engine against the stock diffusers ControlNet pipeline on the same weights and device,
in one process, alternating frame by frame so that clock boosts, heat and other processes'
load fall on every run alike. Warm-up frames (first calls, allocator growth, the engine's one
prompt encode) are timed but reported apart.

Runs: ``engine`` (``Engine.render`` on a sketch that gains one stroke segment per frame: the
prompt stays, the pixels change); ``baseline`` (``StableDiffusion(XL)ControlNetPipeline`` from
the same module objects, one step, no guidance, PIL out, in the device's default dtype: fp32 on
CPU, fp16 on GPUs); ``stock_same_dtype`` (that pipeline in the engine's dtype, only when it
differs from the baseline's, e.g. bf16 on an AMX CPU; otherwise the baseline is that run).

All runs share one set of UNet, ControlNet and text encoders: a second full-size SDXL in fp32
beside the engine's bf16 one would not fit a 24 GB machine. A run in another dtype converts the
shared modules in place before its frame, outside the timed part
(``tools.SharedModules``). Weights built or loaded in bf16 survive bf16 → fp32 → bf16 bit
for bit; in general the shared weights carry the precision of the lowest dtype in play, which
changes pixels, not timings. The stock runs also inherit the engine's channels-last layout,
which if anything speeds them up, but get plain (unpacked) layers. A pipeline never shares a
VAE in another dtype than its own (the stock pipeline up- and downcasts its VAE in place each
frame); it gets its own copy (the VAE is small). After the shared modules change, each run
renders one untimed frame before its timed one: memory a conversion handed back to the system
is faulted in again by the next frame, and that cost belongs to no run's steady state.

``overhead_ms`` is the median over frames of each frame's wall time minus the time inside its
model forwards (UNet, ControlNet and the preview decoder, or the full VAE decoder without one),
timed by hooks on those modules during the same frame; ``overhead_of_medians_ms`` is the
cruder difference of the two medians, kept for comparison with older reports. Overhead is
everything else the engine does: sketch upload and conditioning, the sampler arithmetic, the
cached prompt/noise/schedule look-ups, the uint8 conversion on the host, and Python around it.
"""

from __future__ import annotations

import copy
import statistics
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from desktop_app.bench.common import StrokeSketch, load_average
from desktop_app.bench.openvino_run import openvino_frame, openvino_report, prepare_openvino
from desktop_app.bench.region import RegionFrames
from desktop_app.bench.tools import ForwardTimer, MemoryProbe, SharedModules
from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.types import RenderRequest
from desktop_app.engine.device import dtype_name, pick_placement
from desktop_app.engine.openvino.target import is_openvino_device
from desktop_app.engine.parts import ModelParts

PROMPT = "a lighthouse on a cliff at dusk, watercolour"
SEED = 0
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    model: str
    size: int = 512
    frames: int = 10
    warmup: int = 2
    device: str | None = None
    dtype: str | None = None
    baseline: bool = True
    compile: bool = False
    region: float | None = None  # also time region frames of this side fraction (region.py)
    backend: str = "pytorch"  # "openvino": its engine timed too (bench/openvino_run.py)
    precision: str | None = None


@dataclass
class Run:
    """One timed contender: ``frame(sketch)`` renders one frame and returns its image."""

    name: str
    frame: Callable[[np.ndarray], object]
    dtype: torch.dtype
    packed: bool = False  # the engine's packed CPU weights (stock pipelines get plain ones)
    warmup_ms: list[float] = field(default_factory=list)
    frame_ms: list[float] = field(default_factory=list)
    peak_mb: float = 0.0
    after_mb: list[float] = field(default_factory=list)  # in use after each timed frame

    @property
    def growth_mb(self) -> float:
        return self.after_mb[-1] - self.after_mb[0] if self.after_mb else 0.0


def default_dtype(device: torch.device) -> torch.dtype:
    """What a stock pipeline user would pick: half precision on GPUs, fp32 on CPUs."""
    return torch.float16 if device.type in ("cuda", "mps") else torch.float32


def stock_pipeline(parts: ModelParts, device: torch.device, dtype: torch.dtype):
    """The diffusers ControlNet pipeline a user would build from these modules."""
    from diffusers import StableDiffusionControlNetPipeline, StableDiffusionXLControlNetPipeline

    from desktop_app.engine.sampling import stock_scheduler

    scheduler = stock_scheduler(parts.scheduler_config)
    vae = parts.vae
    if vae.dtype != dtype:
        vae = copy.deepcopy(vae).to(device, dtype)
    common = dict(vae=vae, unet=parts.unet, controlnet=parts.controlnet, scheduler=scheduler)
    if parts.family == "sdxl":
        pipe = StableDiffusionXLControlNetPipeline(
            text_encoder=parts.text_encoders[0],
            text_encoder_2=parts.text_encoders[1],
            tokenizer=parts.tokenizers[0],
            tokenizer_2=parts.tokenizers[1],
            add_watermarker=False,
            **common,
        )
    else:
        pipe = StableDiffusionControlNetPipeline(
            text_encoder=parts.text_encoders[0],
            tokenizer=parts.tokenizers[0],
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
            **common,
        )
    pipe.set_progress_bar_config(disable=True)
    return pipe


@contextmanager
def _plain_forwards(modules: list[torch.nn.Module]):
    """A compiled engine swaps its modules' forwards (``Engine._compile``) and a stock pipeline
    may share those modules: it must time diffusers as a user runs it, uncompiled."""
    swapped = [(m, m.__dict__.pop("forward")) for m in modules if "forward" in m.__dict__]
    try:
        yield
    finally:
        for module, forward in swapped:
            module.forward = forward


def _stock_run(name: str, pipe, size: int, dtype: torch.dtype) -> Run:
    from PIL import Image

    modules = [pipe.unet, pipe.controlnet]

    def frame(sketch: np.ndarray):
        with warnings.catch_warnings(), _plain_forwards(modules):
            # Random weights in half precision can decode to NaN; the cast warning is noise.
            warnings.simplefilter("ignore", RuntimeWarning)
            return pipe(
                prompt=PROMPT,
                image=Image.fromarray(sketch),
                height=size,
                width=size,
                num_inference_steps=1,
                guidance_scale=0.0,
                generator=torch.Generator("cpu").manual_seed(SEED),
                output_type="pil",
            ).images[0]

    return Run(name, frame, dtype)


def _median(values: list[float], digits: int = 2) -> float | None:
    return round(statistics.median(values), digits) if values else None


def _ratio(num: float | None, den: float | None) -> float | None:
    return round(num / den, 4) if num is not None and den else None


def run_benchmark(config: BenchConfig, progress: Progress | None = None) -> dict:
    """Load, warm up, time ``config.frames`` alternating frames per run: the measurements of the
    JSON report (the command adds where, when and how it was run)."""
    from desktop_app.engine.loading import load_parts
    from desktop_app.engine.renderer import Engine

    say = progress or (lambda _msg: None)
    openvino = config.backend == "openvino" or is_openvino_device(config.device)
    if config.precision is not None and not openvino:
        raise InvalidRequestError("--precision goes with --backend openvino")
    torch_device = None if is_openvino_device(config.device) else config.device
    placement = pick_placement(torch_device, config.dtype)
    device, engine_dtype = placement.device, placement.dtype
    base_dtype = default_dtype(device)

    say(f"loading {config.model} ({dtype_name(engine_dtype)}) on {device}")
    parts = load_parts(config.model, torch.float32 if openvino else engine_dtype)
    ov_bench = None
    if openvino:  # converted from fp32 weights, before the PyTorch engine takes the modules
        ov_device = config.device if is_openvino_device(config.device) else None
        ov_bench = prepare_openvino(parts, ov_device, config.precision, config.size, say)
    engine = Engine(parts, placement, compile_models=config.compile)
    decoder = (parts.tae or parts.vae).decoder
    timer = ForwardTimer([parts.unet, parts.controlnet, decoder], device)
    breakdown: dict[str, list[float]] = {}
    forwards: list[float] = []
    last: list = [None]  # the latest engine FrameResult, for its stage timings

    def engine_frame(sketch: np.ndarray):
        timer.frame_ms, timer.enabled = 0.0, True
        try:
            last[0] = engine.render(RenderRequest(sketch=sketch, prompt=PROMPT, size=config.size))
        finally:
            timer.enabled = False
        return last[0]

    runs = [Run("engine", engine_frame, engine_dtype, packed=True)]
    regions = None
    if config.region is not None:
        regions = RegionFrames(engine, config.size, config.region, PROMPT)
        runs.append(Run("region", regions.frame, engine_dtype, packed=True))  # after "engine"
    if ov_bench is not None:  # the shared modules stay as the engine has them
        frame = openvino_frame(ov_bench, PROMPT, config.size)
        runs.append(Run("openvino", frame, engine_dtype, packed=True))
    shared_modules = [parts.unet, parts.controlnet, *parts.text_encoders]
    shared = SharedModules(shared_modules, engine_dtype, engine.packed_weights)
    if config.baseline:
        # Built while the modules are in the engine's dtype: each pipeline copies the VAE
        # into its own dtype where that differs (the shared modules are converted per frame).
        pipe = stock_pipeline(parts, device, base_dtype)
        runs.append(_stock_run("baseline", pipe, config.size, base_dtype))
        if base_dtype != engine_dtype:
            same = stock_pipeline(parts, device, engine_dtype)
            runs.append(_stock_run("stock_same_dtype", same, config.size, engine_dtype))

    def engine_timed() -> None:
        forwards.append(timer.frame_ms)
        for key, value in vars(last[0].timings).items():
            breakdown.setdefault(key, []).append(value)

    probe = MemoryProbe(device)
    load_start = load_average()
    settle_frames = _time_frames(config, runs, shared, probe, say, engine_timed)
    timer.close()
    loads = [load_start, load_average()]
    report = _report(config, placement, base_dtype, runs, breakdown, forwards, probe, loads)
    report["dtype_conversions"] = shared.conversions
    report["settle_frames"] = settle_frames
    report["packed_weights"] = engine.packed_weights is not None
    if regions is not None:
        region_ms = next(run.frame_ms for run in runs if run.name == "region")
        report |= regions.report(runs[0].frame_ms, region_ms, config.warmup)
    if ov_bench is not None:
        ov_ms = next(run.frame_ms for run in runs if run.name == "openvino")
        report["openvino"] = openvino_report(ov_bench, ov_ms, report)
    if shared.conversions:
        report["notes"].append(
            "the runs share one set of modules, converted in place between the dtypes before "
            "each run's frame (not timed): see dtype_conversions"
        )
    if settle_frames:
        report["notes"].append(
            "after the shared modules changed (dtype or packed weights), the next run rendered "
            "one untimed frame before its timed one: see settle_frames"
        )
    return report


def _time_frames(config: BenchConfig, runs: list[Run], shared, probe, say, engine_timed) -> int:
    """Warm-up, then timed frames, each run in turn on the same sketch; ``engine_timed`` is
    called after each timed engine frame. Returns how many untimed settling frames ran."""
    sketches = StrokeSketch(config.size)
    settle_frames = 0
    for index in range(config.warmup + config.frames):
        sketch = sketches.next()
        warm = index < config.warmup
        for run in runs:
            if shared.use(run.dtype, run.packed) and not warm:
                # Memory a conversion handed back is faulted in again by the next frame; that
                # frame, untimed, is the same for every run, and the timed one is steady-state.
                run.frame(sketch)
                settle_frames += 1
            probe.begin()
            start = time.perf_counter()
            run.frame(sketch)
            ms = (time.perf_counter() - start) * 1000.0
            peak, after = probe.end()
            if warm:
                run.warmup_ms.append(round(ms, 2))
                continue
            run.frame_ms.append(round(ms, 2))
            run.peak_mb = max(run.peak_mb, peak)
            run.after_mb.append(after)
            if run.name == "engine":
                engine_timed()
        done, of = (
            (index + 1, config.warmup) if warm else (index + 1 - config.warmup, config.frames)
        )
        times = ", ".join(f"{r.name} {(r.warmup_ms if warm else r.frame_ms)[-1]:.0f}" for r in runs)
        say(f"{'warm-up' if warm else 'frame'} {done}/{of}: {times} ms")
    return settle_frames


def _report(config, placement, base_dtype, runs, breakdown, forwards, probe, loads) -> dict:
    by_name = {run.name: run for run in runs}
    engine_ms = _median(by_name["engine"].frame_ms)
    baseline = by_name.get("baseline")
    same = by_name.get("stock_same_dtype", baseline)
    baseline_ms = _median(baseline.frame_ms) if baseline else None
    same_ms = _median(same.frame_ms) if same else None
    forwards_ms = _median(forwards)
    notes = []
    if config.compile:
        short = "; fewer than 2 warm-up frames leave that in the timings"
        notes.append(
            "compiled: the first warm-up frame includes compiling, the second (on CUDA) "
            "recording the CUDA graphs" + (short if config.warmup < 2 else "")
        )
    if baseline is not None and same is baseline:
        notes.append(
            f"the engine runs the baseline's dtype ({dtype_name(base_dtype)}), so "
            "ratio_same_dtype is the baseline run itself (not run twice)"
        )
    return {
        "model": config.model,
        "device": str(placement.device),
        "dtype": placement.dtype_name,
        "baseline_dtype": dtype_name(base_dtype) if baseline else None,
        "size": config.size,
        "frames": config.frames,
        "warmup": config.warmup,
        "compile": config.compile,
        "baseline_ms": baseline_ms,
        "engine_ms": engine_ms,
        "stock_same_dtype_ms": same_ms,
        "ratio": _ratio(engine_ms, baseline_ms),
        "ratio_same_dtype": _ratio(engine_ms, same_ms),
        # Frame i of each run ran back to back, so their quotient cancels slow load swings.
        "ratio_paired": _median(
            [e / b for e, b in zip(runs[0].frame_ms, baseline.frame_ms, strict=True)], 4
        )
        if baseline
        else None,
        "forwards_ms": forwards_ms,
        "overhead_ms": _median([r - f for r, f in zip(runs[0].frame_ms, forwards, strict=True)]),
        "overhead_of_medians_ms": round(engine_ms - forwards_ms, 2),
        "breakdown": {key: _median(values) for key, values in breakdown.items()},
        "warmup_ms": {run.name: run.warmup_ms for run in runs},
        "frames_ms": {run.name: run.frame_ms for run in runs},
        "peak_mem_mb": {run.name: round(run.peak_mb, 1) for run in runs}
        | {"process": round(probe.process_peak_mb(), 1)},
        # From after the first timed frame to after the last, per run and for the process
        # at the end of each cycle: the leak check.
        "mem_growth_mb": {run.name: round(run.growth_mb, 1) for run in runs}
        | {"total": round(runs[-1].growth_mb, 1)},
        "memory_method": probe.method,
        "load_average": loads,
        "notes": notes,
    }

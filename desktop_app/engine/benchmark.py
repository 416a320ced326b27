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
shared modules in place before its frame, outside the timed part (``SharedModules``). Weights
built or loaded in bf16 survive bf16 → fp32 → bf16 bit for bit; in general the shared weights
carry the precision of the lowest dtype in play, which changes pixels, not timings. The stock
runs also inherit the engine's channels-last layout, which if anything speeds them up. A
pipeline never shares a VAE in another dtype than its own (the stock pipeline up- and downcasts
its VAE in place each frame); it gets its own copy (the VAE is small).

``overhead_ms`` is the median over frames of each frame's wall time minus the time inside its
model forwards (UNet, ControlNet and the preview decoder, or the full VAE decoder without one),
timed by hooks on those modules during the same frame; ``overhead_of_medians_ms`` is the
cruder difference of the two medians, kept for comparison with older reports. Overhead is
everything else the engine does: sketch upload and conditioning, the sampler arithmetic, the
cached prompt/noise/schedule look-ups, the uint8 conversion on the host, and Python around it.
"""

from __future__ import annotations

import copy
import math
import os
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from desktop_app.engine.cpu_weights import PackedWeights, release_freed_memory
from desktop_app.engine.device import dtype_name, pick_placement
from desktop_app.engine.parts import ModelParts
from desktop_app.engine.types import RenderRequest

PROMPT = "a lighthouse on a cliff at dusk, watercolour"
_TRIM_ABOVE_BYTES = 1 << 30
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


class SharedModules:
    """The modules every run uses, made ready for the run about to start, never timed:
    converted in place to its dtype (one parameter at a time, so the peak is the larger copy
    plus one tensor), and with the engine's packed CPU weights (``cpu_weights``) unpacked for
    the stock pipeline and packed again for the engine."""

    def __init__(
        self, modules: list[torch.nn.Module], dtype: torch.dtype, packing: PackedWeights | None
    ):
        self._modules = modules
        self._packing = packing
        self.dtype = dtype
        self.conversions = 0
        dense = sum(p.numel() * p.element_size() for m in modules for p in m.parameters())
        # Freed copies are handed back to the system only for big models, where they could
        # crowd out the next run's weights; for small ones it would only make the next frame
        # fault its working memory back in, inside the timed part.
        self._trim = dense + (packing.weight_bytes if packing else 0) > _TRIM_ABOVE_BYTES

    def use(self, dtype: torch.dtype, packed: bool = False) -> None:
        packing, changed = self._packing, False
        if packing is not None and packing.packed and (not packed or dtype != self.dtype):
            packing.unpack()
            changed = True
        if dtype != self.dtype:
            for module in self._modules:
                module.to(dtype)  # keeps each tensor's memory format (channels-last stays)
            self.dtype = dtype
            self.conversions += 1
            changed = True
        if packing is not None and packed and not packing.packed:
            packing.pack()
            changed = True
        if changed and self._trim:
            release_freed_memory()


class StrokeSketch:
    """Dark lines on white paper; every ``next()`` adds one more segment of a looping stroke,
    so no two frames see the same pixels (as when someone is drawing)."""

    def __init__(self, size: int):
        self.size = size
        self.image = np.full((size, size, 3), 255, np.uint8)
        self._count = 0
        margin = size // 8
        self._line((margin, margin), (size - margin, margin))  # a horizon, so frame 0 has ink
        self._last = self._point(0)

    def _point(self, k: int) -> tuple[float, float]:
        c, r = self.size / 2, self.size * 0.35
        return c + r * math.sin(0.7 * k), c + r * math.cos(0.45 * k)

    def _line(self, a: tuple[float, float], b: tuple[float, float], radius: int = 2) -> None:
        steps = max(2, int(math.dist(a, b)) + 1)
        for x, y in zip(
            np.linspace(a[0], b[0], steps), np.linspace(a[1], b[1], steps), strict=True
        ):
            xi, yi = int(x), int(y)
            self.image[max(0, yi - radius) : yi + radius, max(0, xi - radius) : xi + radius] = 20

    def next(self) -> np.ndarray:
        self._count += 1
        point = self._point(self._count)
        self._line(self._last, point)
        self._last = point
        return self.image.copy()  # the app hands the engine a snapshot, not the live canvas


class ForwardTimer:
    """Milliseconds spent inside the UNet, ControlNet and decoder forwards of one engine frame.

    Hooks on the modules themselves, so it times exactly the calls the engine makes with the
    inputs it makes them with. On CUDA each hook synchronises, so a forward's time includes its
    kernel launches and the kernels; elsewhere the ops run synchronously anyway.
    """

    def __init__(self, modules: list[torch.nn.Module], device: torch.device):
        self._sync = device.type == "cuda"
        self.enabled = False
        self.frame_ms = 0.0
        self._starts: dict[int, float] = {}
        self._handles = []
        for module in modules:
            self._handles.append(module.register_forward_pre_hook(self._before))
            self._handles.append(module.register_forward_hook(self._after))

    def _now(self) -> float:
        if self._sync:
            torch.cuda.synchronize()
        return time.perf_counter()

    def _before(self, module, _args) -> None:
        if self.enabled:
            self._starts[id(module)] = self._now()

    def _after(self, module, _args, _out) -> None:
        start = self._starts.pop(id(module), None)
        if self.enabled and start is not None:
            self.frame_ms += (self._now() - start) * 1000.0

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


class MemoryProbe:
    """Peak memory and growth per frame, so alternating runs can be told apart.

    CUDA: ``max_memory_allocated`` after resetting the peak before each frame, growth from
    ``memory_allocated``. CPU: the process's peak RSS (VmHWM), reset before each frame through
    ``/proc/self/clear_refs`` where Linux allows it; elsewhere ``getrusage``'s ru_maxrss, which
    cannot be reset and so is the process peak so far. Growth compares the memory in use at the
    same point of every frame cycle, first timed frame against last, so that what one run frees
    and the next takes back (or what a dtype conversion hands back to the system) cancels out.
    Both CPU figures count the whole process (weights included).
    """

    def __init__(self, device: torch.device):
        import psutil  # a dependency of accelerate, which diffusers needs here

        self._cuda = device.type == "cuda"
        self._process = psutil.Process()
        self._resettable = not self._cuda and self._reset_hwm()
        self.method = (
            "cuda max_memory_allocated per frame; growth: memory_allocated"
            if self._cuda
            else f"process peak RSS ({'VmHWM reset per frame' if self._resettable else 'so far'}); "
            "growth: RSS"
        )
        self._max_peak = 0.0

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def current_mb(self) -> float:
        if self._cuda:
            return torch.cuda.memory_allocated() / 2**20
        return self._process.memory_info().rss / 2**20

    def begin(self) -> None:
        if self._cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        elif self._resettable:
            self._reset_hwm()

    def end(self) -> tuple[float, float]:
        """(peak during the frame, in use after it) in MiB."""
        if self._cuda:
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() / 2**20
        elif self._resettable:
            peak = _vm_hwm_mb()
        else:
            peak = self.process_peak_mb()
        self._max_peak = max(self._max_peak, peak)
        return peak, self.current_mb()

    def process_peak_mb(self) -> float:
        if self._cuda:
            return torch.cuda.max_memory_allocated() / 2**20
        # Resetting VmHWM also lowers ru_maxrss, hence the maximum over the frames too.
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return max(self._max_peak, rss / 2**20 if sys.platform == "darwin" else rss / 2**10)


def _vm_hwm_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 2**10


def _load_average() -> float | None:
    """The 1-minute load average: other processes on the machine skew CPU timings badly."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def default_dtype(device: torch.device) -> torch.dtype:
    """What a stock pipeline user would pick: half precision on GPUs, fp32 on CPUs."""
    return torch.float16 if device.type in ("cuda", "mps") else torch.float32


def stock_pipeline(parts: ModelParts, device: torch.device, dtype: torch.dtype):
    """The diffusers ControlNet pipeline a user would build from these modules."""
    from diffusers import (
        EulerDiscreteScheduler,
        StableDiffusionControlNetPipeline,
        StableDiffusionXLControlNetPipeline,
    )

    scheduler = EulerDiscreteScheduler.from_config(
        dict(parts.scheduler_config, timestep_spacing="trailing")
    )
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
    placement = pick_placement(config.device, config.dtype)
    device, engine_dtype = placement.device, placement.dtype
    base_dtype = default_dtype(device)

    say(f"loading {config.model} ({dtype_name(engine_dtype)}) on {device}")
    parts = load_parts(config.model, engine_dtype)
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

    probe = MemoryProbe(device)
    sketches = StrokeSketch(config.size)
    load_start = _load_average()
    total = config.warmup + config.frames
    for index in range(total):
        sketch = sketches.next()
        warm = index < config.warmup
        for run in runs:
            shared.use(run.dtype, run.packed)
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
                forwards.append(timer.frame_ms)
                for key, value in vars(last[0].timings).items():
                    breakdown.setdefault(key, []).append(value)
        done, of = (
            (index + 1, config.warmup) if warm else (index + 1 - config.warmup, config.frames)
        )
        times = ", ".join(f"{r.name} {(r.warmup_ms if warm else r.frame_ms)[-1]:.0f}" for r in runs)
        say(f"{'warm-up' if warm else 'frame'} {done}/{of}: {times} ms")
    timer.close()
    loads = [load_start, _load_average()]
    report = _report(config, placement, base_dtype, runs, breakdown, forwards, probe, loads)
    report["dtype_conversions"] = shared.conversions
    report["packed_weights"] = engine.packed_weights is not None
    if shared.conversions:
        report["notes"].append(
            "the runs share one set of modules, converted in place between the dtypes before "
            "each run's frame (not timed): see dtype_conversions"
        )
    return report


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

"""Each of the engine's speed-ups switched off in turn, timed against the engine with all of
them on: the same loaded model, in one process, in rounds.

    .venv/bin/python benchmarks/ablations.py --model random:sdxl --size 256 --frames 3
    .venv/bin/python benchmarks/ablations.py --model tiny --size 512 --frames 20 --json

Every round renders one frame per configuration, in turn, so that load swings fall on all of
them alike; switching a speed-up off and back on happens between frames and is not timed. The
sketch gains a stroke segment every frame and the prompt stays, as while drawing. The first
round is a warm-up and is reported apart.

The dtype is not switched here (a second full-size copy would not fit a small machine's RAM):
compare ``live-canvas bench --no-baseline`` runs with ``--dtype float32`` and without.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Setup = Callable[[object], contextlib.AbstractContextManager]
PROMPT = "a lighthouse on a cliff at dusk, watercolour"


@dataclass(frozen=True)
class Ablation:
    name: str
    setup: Setup  # a context manager around one frame: speed-up off inside, back on after
    applies: Callable[[object], bool] = lambda engine: True


@contextlib.contextmanager
def _all_on(engine) -> Iterator[None]:
    yield


@contextlib.contextmanager
def _unpacked(engine) -> Iterator[None]:
    engine.packed_weights.unpack()
    try:
        yield
    finally:
        engine.packed_weights.pack()


@contextlib.contextmanager
def _contiguous(engine) -> Iterator[None]:
    import torch

    def relayout(memory_format) -> None:
        if engine.packed_weights is not None:
            engine.packed_weights.unpack()
        for module in (engine.parts.unet, engine.parts.controlnet, engine.parts.tae):
            if module is not None:
                module.to(memory_format=memory_format)
        if engine.packed_weights is not None:
            engine.packed_weights.pack()

    relayout(torch.contiguous_format)
    try:
        yield
    finally:
        relayout(torch.channels_last)


@contextlib.contextmanager
def _no_prompt_cache(engine) -> Iterator[None]:
    engine.prompts.forget()  # this frame encodes the prompt again, as a stock pipeline does
    yield


@contextlib.contextmanager
def _full_vae_preview(engine) -> Iterator[None]:
    tae, engine.parts.tae = engine.parts.tae, None
    try:
        yield
    finally:
        engine.parts.tae = tae


@contextlib.contextmanager
def _control_through_pil(engine) -> Iterator[None]:
    """The ControlNet input made as the stock pipeline makes it: a PIL image through diffusers'
    image processor (resize, float conversion on the host), then the same ink inversion."""
    from diffusers.image_processor import VaeImageProcessor
    from PIL import Image

    from desktop_app.engine import renderer
    from desktop_app.engine.sketch import control_from_canvas

    processor = VaeImageProcessor(do_convert_rgb=True, do_normalize=False)

    def through_pil(sketch, dtype):
        height, width = sketch.shape[:2]
        image = processor.preprocess(Image.fromarray(sketch), height=height, width=width)
        return control_from_canvas(image.to(engine.device, dtype))

    original, renderer.control_from_sketch = renderer.control_from_sketch, through_pil
    try:
        yield
    finally:
        renderer.control_from_sketch = original


@contextlib.contextmanager
def _one_thread(engine) -> Iterator[None]:
    from desktop_app.bench.tools import one_torch_thread

    with one_torch_thread():
        yield


ABLATIONS = (
    Ablation("engine, everything on", _all_on),
    Ablation("packed CPU weights off", _unpacked, lambda engine: engine.packed_weights is not None),
    Ablation("channels-last off", _contiguous),
    Ablation("prompt cache off", _no_prompt_cache),
    Ablation("tiny decoder off (full VAE)", _full_vae_preview, lambda e: e.parts.tae is not None),
    Ablation(
        "ControlNet input through PIL",
        _control_through_pil,
        lambda engine: engine.device.type == "cpu",
    ),
    Ablation("1 thread instead of all", _one_thread, lambda e: _cpu_threads(e) > 1),
)


def _cpu_threads(engine) -> int:
    import torch

    return torch.get_num_threads() if engine.device.type == "cpu" else 0


def run(
    model: str, size: int, frames: int, device: str | None, say=print, command: str = ""
) -> dict:
    import torch

    from desktop_app.bench.common import StrokeSketch
    from desktop_app.core.types import RenderRequest
    from desktop_app.engine.loading import load_engine

    say(f"loading {model}")
    engine = load_engine(model, device=device)
    threads = torch.get_num_threads()
    ablations = [a for a in ABLATIONS if a.applies(engine)]
    times: dict[str, list[float]] = {a.name: [] for a in ablations}
    warmup: dict[str, float] = {}
    sketches = StrokeSketch(size)
    for round_index in range(frames + 1):
        for ablation in ablations:
            request = RenderRequest(sketch=sketches.next(), prompt=PROMPT, size=size)
            with ablation.setup(engine):
                start = time.perf_counter()
                engine.render(request)
                ms = (time.perf_counter() - start) * 1000.0
            if round_index == 0:
                warmup[ablation.name] = round(ms, 2)
            else:
                times[ablation.name].append(round(ms, 2))
        if round_index:
            say(f"round {round_index}/{frames} done")
    medians = {name: round(statistics.median(values), 2) for name, values in times.items()}
    base = medians[ABLATIONS[0].name]
    return {
        "model": model,
        "size": size,
        "frames": frames,
        "device": str(engine.device),
        "dtype": engine.info.dtype,
        "torch_threads": threads,
        "packed_weights": engine.packed_weights is not None,
        "median_ms": medians,
        "slowdown": {name: round(ms / base, 3) for name, ms in medians.items()},
        "frames_ms": times,
        "warmup_ms": warmup,
        "command": command,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def table(report: dict) -> str:
    lines = [
        f"{report['model']} at {report['size']} on {report['device']} ({report['dtype']}, "
        f"{report['torch_threads']} threads), {report['frames']} rounds after 1 warm-up",
        f"  {'configuration':34} {'median ms':>10} {'x all on':>9}",
    ]
    for name, ms in report["median_ms"].items():
        lines.append(f"  {name:34} {ms:10.1f} {report['slowdown'][name]:9.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.size < 64 or args.size % 64:
        parser.error("--frames must be at least 1 and --size a multiple of 64")
    import desktop_app  # noqa: F401 - sets OMP_WAIT_POLICY before torch loads

    report = run(
        args.model,
        args.size,
        args.frames,
        args.device,
        say=lambda msg: print(msg, file=sys.stderr),
        command=shlex.join(
            ["benchmarks/ablations.py", *(argv if argv is not None else sys.argv[1:])]
        ),
    )
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

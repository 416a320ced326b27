"""``bench --backend openvino``: the OpenVINO engine as one more run beside the PyTorch engine
and the stock pipeline, on the same loaded modules (converted, or read from the cache, before
the PyTorch engine takes them over; that time is reported as ``prepare_s``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from desktop_app.core.types import RenderRequest
from desktop_app.engine.parts import ModelParts


@dataclass
class OpenVinoBench:
    engine: object
    prepare_s: float
    entry: str


def prepare_openvino(
    parts: ModelParts, device: str | None, precision: str | None, size: int, say
) -> OpenVinoBench:
    """The OpenVINO engine on ``parts`` (fp32 weights), its models for ``size`` ready."""
    from desktop_app.engine.openvino.engine import OpenVinoEngine
    from desktop_app.engine.openvino.target import resolve_target

    target = resolve_target(device, precision)
    engine = OpenVinoEngine(parts, target, progress=say)
    start = time.perf_counter()
    engine.prepare(size, say)
    seconds = time.perf_counter() - start
    return OpenVinoBench(engine, round(seconds, 1), engine.entry_key(size, target.precision))


def openvino_frame(bench: OpenVinoBench, prompt: str, size: int) -> Callable[[np.ndarray], object]:
    def frame(sketch: np.ndarray):
        return bench.engine.render(RenderRequest(sketch=sketch, prompt=prompt, size=size))

    return frame


def openvino_report(bench: OpenVinoBench, frame_ms: list[float], report: dict) -> dict:
    engine = bench.engine
    median = round(statistics.median(frame_ms), 2) if frame_ms else None
    cache = engine.cache
    ratio = lambda other: round(median / other, 4) if median and other else None  # noqa: E731
    return {
        "device": engine.target.device,
        "precision": engine.target.precision,
        "int8_scope": engine.target.int8_scope if engine.target.precision == "int8" else None,
        "ms": median,
        "ratio_vs_stock": ratio(report["baseline_ms"]),
        "ratio_vs_engine": ratio(report["engine_ms"]),
        "prepare_s": bench.prepare_s,
        "converted_now": sorted({item.split("/")[1] for item in cache.converted}),
        "cache_mb": round(cache.size_bytes(bench.entry) / 2**20, 1),
        "cache_folder": str(cache.folder),
        "torch_threads": torch.get_num_threads(),
    }

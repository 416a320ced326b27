"""Test doubles: a fake engine with the real engine's interface and no torch (tests and the
UI-stall benchmark; never shipped in the package)."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import replace
from typing import Any

import numpy as np

from desktop_app.core.errors import DeviceOutOfMemoryError, RenderCancelled
from desktop_app.core.types import (
    EngineInfo,
    FinishProgress,
    FinishRequest,
    FrameResult,
    FrameTimings,
    GenerationParams,
    RenderRequest,
    lora_name,
)

_load_ids = itertools.count(10_000)  # apart from the engines', for clarity in failures


class FakeEngine:
    """Renders the inverted sketch tinted by the seed; optionally slow or failing."""

    def __init__(self, delay_s: float = 0.0, is_noise: bool = False, model: str = "fake") -> None:
        self.delay_s = delay_s
        self.export_delay_s = 0.0  # an export's decode, which asks should_cancel like a frame
        self.block_s = 0.01  # one "model block": how long a cancel may wait
        self.fail_next = 0  # how many of the next renders raise
        self.scale_with_size = False  # delay_s is a 512² frame's; smaller ones take less
        self.rendered: list[int] = []
        self.rendered_sizes: list[int] = []
        self.loras: tuple = ()  # the styles "fused": each darkens the picture by its weight
        self.bad_loras: set[str] = set()  # files set_loras refuses
        self.exported: list[int] = []
        self.finished: list[int] = []  # request ids of the finishes that completed
        self.finish_delay_s = 0.0
        self.cancelled: list[int] = []
        self.started = threading.Event()
        self.info = EngineInfo(
            model=model,
            family="sdxl",
            device="cpu",
            dtype="float32",
            preview_decoder="none",
            is_noise=is_noise,
            load_id=next(_load_ids),
        )

    def render(self, request: RenderRequest, should_cancel: Any = None) -> FrameResult:
        """Like the real engine, a slow fake frame asks ``should_cancel`` as it goes (every
        10 ms, one "model block") and raises RenderCancelled when told to stop."""
        self.started.set()
        start = time.perf_counter()
        delay = self.delay_s * ((request.size / 512) ** 2 if self.scale_with_size else 1.0)
        self._work(delay, should_cancel, request.request_id)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise DeviceOutOfMemoryError("the device ran out of memory (fake)")
        size = request.size
        # Colour mode starts from the colour image when there is one, as the engine does.
        colour = request.mode == "colour" and request.colour is not None
        sketch = request.colour if colour else request.sketch
        rows = np.arange(size) * sketch.shape[0] // size
        cols = np.arange(size) * sketch.shape[1] // size
        image = 255 - sketch[rows][:, cols]
        tint = np.array([request.seed % 256, (request.seed // 256) % 256, 128], np.uint8)
        image = (image // 2 + tint // 2).astype(np.uint8)
        self.set_loras(request.loras)
        if self.loras:
            shade = 1.0 - 0.2 * sum(abs(w) for _, w in self.loras) / len(self.loras)
            image = (image * max(shade, 0.1)).astype(np.uint8)
        if request.region is not None and request.keep is not None:
            # A region frame: the fake's picture inside the region, the kept one outside (no
            # feather: the real engine's edge is tested on the engine).
            inside = request.region[rows][:, cols]
            image = np.where(inside[..., None], image, request.keep)
        self.rendered.append(request.request_id)
        self.rendered_sizes.append(size)
        total = (time.perf_counter() - start) * 1000
        params = GenerationParams(
            prompt=request.prompt,
            seed=request.seed,
            steps=request.steps,
            size=size,
            model=self.info.model,
            mode=request.mode,
            control_scale=request.control_scale,
            strength=request.strength if request.mode == "colour" else None,
            loras=tuple((lora_name(path), w, "0" * 12) for path, w in self.loras),
            composed=request.region is not None,
        )
        return FrameResult(
            image=image,
            params=params,
            timings=FrameTimings(total_ms=total),
            request_id=request.request_id,
            load_id=self.info.load_id,
        )

    def set_loras(self, loras: tuple, progress: Any = None) -> None:
        from desktop_app.core.errors import ModelLoadError

        bad = [path for path, _ in loras if path in self.bad_loras]
        if bad:
            raise ModelLoadError(f"LoRA {bad[0]} does not fit fake (fake)")
        self.loras = loras

    def finish(
        self, request: FinishRequest, progress: Any = None, should_cancel: Any = None
    ) -> FrameResult:
        """The picture upscaled (nearest) and brightened a little, in ``finish_delay_s`` split
        over its steps, each reported to ``progress`` and cancellable; ``fail_next`` fails it
        as out of memory, as it fails a frame."""
        start = time.perf_counter()
        runs = int(request.steps * request.strength)
        for step in range(runs):
            self._work(self.finish_delay_s / runs, should_cancel, request.request_id)
            if progress is not None:
                elapsed = time.perf_counter() - start
                left = elapsed / (step + 1) * (runs - step - 1)
                progress(FinishProgress("refine", step + 1, runs, elapsed, left))
        if self.fail_next > 0:
            self.fail_next -= 1
            raise DeviceOutOfMemoryError("the device ran out of memory while finishing (fake)")
        target = request.target_size
        index = np.arange(target) * request.size // target
        image = request.picture[index][:, index]
        image = np.minimum(image.astype(np.uint16) + 16, 255).astype(np.uint8)
        self.finished.append(request.request_id)
        first = request.first_pass or GenerationParams(
            prompt=request.prompt,
            seed=request.seed,
            steps=1,
            size=request.size,
            model=self.info.model,
            mode="scribble",
            control_scale=request.control_scale,
            strength=None,
        )
        params = replace(
            first,
            hires_upscale=request.scale,
            hires_steps=request.steps,
            denoising_strength=request.strength,
        )
        total = (time.perf_counter() - start) * 1000
        return FrameResult(
            image=image,
            params=params,
            timings=FrameTimings(total_ms=total),
            request_id=request.request_id,
            load_id=self.info.load_id,
        )

    def export_image(self, result: FrameResult, should_cancel: Any = None) -> np.ndarray:
        self._work(self.export_delay_s, should_cancel, result.request_id)
        self.exported.append(result.request_id)
        return result.image.copy()

    def _work(self, delay: float, should_cancel: Any, request_id: int) -> None:
        """``delay`` seconds of "model blocks" of ``block_s``, each after asking
        ``should_cancel``."""
        start = time.perf_counter()
        while time.perf_counter() - start < delay:
            if should_cancel is not None and should_cancel():
                self.cancelled.append(request_id)
                raise RenderCancelled("the frame was cancelled")
            time.sleep(min(self.block_s, delay))


def fake_loader(engine: FakeEngine | None = None, error: Exception | None = None):
    """A ``load_engine``-shaped callable returning ``engine`` (or raising ``error``)."""

    def load(
        model: str, device: str | None = None, progress: Any = None, **_options: Any
    ) -> FakeEngine:  # options: a server's token and CA files, ignored
        if progress is not None:
            progress(f"Loading {model} (fake)…")
        if error is not None:
            raise error
        return engine if engine is not None else FakeEngine()

    return load

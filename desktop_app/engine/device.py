"""Which device and dtype a model runs on, and how to time work on it honestly."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch

from desktop_app.core.errors import InvalidRequestError


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype

    @property
    def dtype_name(self) -> str:
        return dtype_name(self.dtype)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def cpu_has_native_bf16() -> bool:
    """AMX or AVX512-BF16 make bf16 matmuls several times faster than fp32; without them
    bf16 is emulated and slower, so we stay in fp32."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def pick_placement(device: str | None = None, dtype: str | None = None) -> Placement:
    """CUDA fp16, else Apple MPS fp16, else CPU (bf16 where the CPU computes it natively)."""
    if device is None:
        if torch.cuda.is_available():
            device = "cuda"
        elif torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InvalidRequestError(
            f"unknown device {device!r}; use cpu, cuda, cuda:N or mps"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidRequestError("--device cuda was asked for, but no CUDA GPU is available")
    if dev.type == "cuda" and (dev.index or 0) >= torch.cuda.device_count():
        raise InvalidRequestError(
            f"there is no {dev}: this machine has {torch.cuda.device_count()} CUDA GPU(s)"
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise InvalidRequestError("--device mps was asked for, but Apple MPS is not available")
    if dtype is None:
        if dev.type in ("cuda", "mps"):
            dtype = "float16"
        else:
            dtype = "bfloat16" if cpu_has_native_bf16() else "float32"
    dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype not in dtypes:
        raise InvalidRequestError(f"dtype must be one of {', '.join(dtypes)}, got {dtype!r}")
    return Placement(dev, dtypes[dtype])


def configure_cpu_threads() -> None:
    """Leave one core to the UI thread: a busy event loop is what makes painting feel slow."""
    wanted = os.environ.get("LIVE_CANVAS_THREADS", "")
    if wanted.isdigit() and int(wanted) > 0:
        torch.set_num_threads(int(wanted))
        return
    cores = os.cpu_count() or 1
    if cores > 2:
        torch.set_num_threads(cores - 1)


class StageClock:
    """Milliseconds per stage of a frame. On CUDA, kernels run asynchronously, so the clock
    records events in the stream and reads them once, after the frame's final copy to the
    host (which waits for the GPU anyway): timing adds no synchronisation inside the frame.
    Elsewhere it is wall-clock time."""

    def __init__(self, device: torch.device):
        self._cuda = device.type == "cuda"
        self._marks = [self._mark()]

    def _mark(self):
        if self._cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def lap(self) -> None:
        """End the current stage and start the next."""
        self._marks.append(self._mark())

    def laps_ms(self) -> list[float]:
        pairs = zip(self._marks, self._marks[1:], strict=False)  # consecutive marks
        if self._cuda:
            self._marks[-1].synchronize()
            return [start.elapsed_time(end) for start, end in pairs]
        return [(end - start) * 1000.0 for start, end in pairs]


def runs_on_cpu(device: str | None = None) -> bool:
    """Would frames run on the CPU (no CUDA or MPS device, or the CPU asked for)?"""
    return pick_placement(device).device.type == "cpu"


def default_variant(device: str | None = None, dtype: str | None = None) -> str:
    """The weights this machine's loader reads: fp16 files only when it computes in fp16."""
    return "fp16" if pick_placement(device, dtype).dtype == torch.float16 else "full"

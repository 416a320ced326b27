"""What a frame hands back: its pixels on the host, its stage timings, and an out-of-memory
failure said in one line with what to try instead."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from desktop_app.core.errors import DeviceOutOfMemoryError
from desktop_app.core.types import FrameTimings
from desktop_app.engine.device import StageClock


@contextlib.contextmanager
def out_of_memory_says_so(
    device: torch.device, size: int, advice: str | None = None
) -> Iterator[None]:
    """CUDA raises OutOfMemoryError; the CPU and MPS allocators a RuntimeError. ``advice``:
    what to try instead (default: a smaller frame size or the fast preset)."""
    try:
        yield
    except RuntimeError as err:
        if not is_out_of_memory(err):
            raise
        raise DeviceOutOfMemoryError(_oom_message(device, size, advice)) from None


def is_out_of_memory(err: BaseException) -> bool:
    """CUDA's OutOfMemoryError (a RuntimeError), or the CPU or MPS allocator's RuntimeError."""
    if isinstance(err, torch.OutOfMemoryError):
        return True
    return isinstance(err, RuntimeError) and "allocate" in str(err) and "memory" in str(err)


def _oom_message(device: torch.device, size: int, advice: str | None) -> str:
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if advice is None:
        smaller = max(256, size // 2 // 64 * 64)
        advice = f"try a smaller size (--size {smaller}) or the fast preset (--model sd-turbo)"
    return f"out of memory on {device} at {size}x{size}: {advice}"


def timings_of(clock: StageClock) -> FrameTimings:
    preprocess_ms, text_ms, denoise_ms, decode_ms, convert_ms = clock.laps_ms()
    return FrameTimings(
        preprocess_ms=preprocess_ms,
        text_encode_ms=text_ms,
        denoise_ms=denoise_ms,
        decode_ms=decode_ms,
        convert_ms=convert_ms,
        total_ms=preprocess_ms + text_ms + denoise_ms + decode_ms + convert_ms,
    )


def to_uint8(decoded: torch.Tensor) -> np.ndarray:
    """[-1, 1] (1, 3, H, W) → (H, W, 3) uint8 on the host. On a GPU the arithmetic runs there
    and one uint8 copy crosses; on the CPU OpenCV scales, rounds and saturates in one
    vectorised pass (a chain of torch or numpy ops reads and writes the image several times)."""
    if decoded.device.type != "cpu":
        scaled = ((decoded[0].float() + 1.0) * 127.5).clamp_(0, 255).round_().to(torch.uint8)
        return scaled.permute(1, 2, 0).contiguous().cpu().numpy()
    import cv2

    # A channels-last decode (the tiny decoder's) is already in pixel order: no copy here.
    pixels = np.ascontiguousarray(decoded[0].permute(1, 2, 0).float().numpy())
    return cv2.addWeighted(pixels, 127.5, pixels, 0.0, 127.5, dtype=cv2.CV_8U)

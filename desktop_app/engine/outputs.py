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
def out_of_memory_says_so(device: torch.device, size: int) -> Iterator[None]:
    """CUDA raises OutOfMemoryError; the CPU and MPS allocators a RuntimeError."""
    try:
        yield
    except torch.OutOfMemoryError:
        raise DeviceOutOfMemoryError(_oom_message(device, size)) from None
    except RuntimeError as err:
        if "allocate" in str(err) and "memory" in str(err):
            raise DeviceOutOfMemoryError(_oom_message(device, size)) from None
        raise


def _oom_message(device: torch.device, size: int) -> str:
    if device.type == "cuda":
        torch.cuda.empty_cache()
    smaller = max(256, size // 2 // 64 * 64)
    return (
        f"out of memory on {device} at {size}x{size}: try a smaller size "
        f"(--size {smaller}) or the fast preset (--model sd-turbo)"
    )


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

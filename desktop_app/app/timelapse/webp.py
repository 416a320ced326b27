"""An animated WebP written one frame at a time, in bounded memory.

Pillow's ``save(save_all=True, append_images=...)`` takes every frame as a decoded image at
once (its WebP plugin makes a list of them): a 30-minute timelapse side by side would need
gigabytes. Here Pillow encodes each frame as a still WebP, and its bitstream chunk (``VP8 ``
or ``VP8L``, with ``ALPH`` if any) is wrapped in an ``ANMF`` frame with its duration, as the
WebP container specification lays out (RIFF, ``VP8X`` with the animation flag, ``ANIM``,
then one ``ANMF`` per frame; https://developers.google.com/speed/webp/docs/riff_container).
Every frame is a whole key frame: larger than the sub-rectangles of libwebp's animation
encoder, but one frame in memory, whatever the length.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

import numpy as np

_ANIMATION_FLAG = 0x02
_DO_NOT_BLEND = 0x02  # each frame replaces the canvas: every frame is whole and opaque
_FRAME_CHUNKS = (b"ALPH", b"VP8 ", b"VP8L")
MAX_DURATION_MS = 2**24 - 1  # a 24-bit field


def _uint24(value: int) -> bytes:
    return struct.pack("<I", value)[:3]


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return fourcc + struct.pack("<I", len(payload)) + payload + pad


def _bitstream(still: bytes) -> bytes:
    """The frame chunks of a still WebP file, as they are (header and padding included)."""
    if still[:4] != b"RIFF" or still[8:12] != b"WEBP":
        raise ValueError("Pillow did not write a WebP file")
    out, at = [], 12
    while at + 8 <= len(still):
        fourcc, size = still[at : at + 4], struct.unpack("<I", still[at + 4 : at + 8])[0]
        end = at + 8 + size + (size % 2)
        if fourcc in _FRAME_CHUNKS:
            out.append(still[at:end])
        at = end
    if not out:
        raise ValueError("the WebP frame holds no picture")
    return b"".join(out)


class AnimatedWebPWriter:
    """``add(image, duration_ms)`` for each frame, then ``finish()``; ``handle`` must seek
    (the RIFF size is written last)."""

    def __init__(self, handle: BinaryIO, size: tuple[int, int], quality: int = 85) -> None:
        self.handle = handle
        self.size = size
        self.quality = quality
        self.frames = 0
        width, height = size
        header = (
            _chunk(
                b"VP8X",
                bytes([_ANIMATION_FLAG, 0, 0, 0]) + _uint24(width - 1) + _uint24(height - 1),
            )
            + _chunk(b"ANIM", struct.pack("<IH", 0xFFFFFFFF, 0))  # white, loop forever
        )
        handle.write(b"RIFF\x00\x00\x00\x00WEBP" + header)

    def add(self, image: np.ndarray, duration_ms: int) -> None:
        from PIL import Image

        if (image.shape[1], image.shape[0]) != self.size:
            raise ValueError(f"a frame of {image.shape[1]}x{image.shape[0]} in a {self.size} film")
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "WEBP", quality=self.quality, method=0)
        width, height = self.size
        frame = (
            _uint24(0)
            + _uint24(0)
            + _uint24(width - 1)
            + _uint24(height - 1)
            + _uint24(max(1, min(int(duration_ms), MAX_DURATION_MS)))
            + bytes([_DO_NOT_BLEND])
        )
        self.handle.write(_chunk(b"ANMF", frame + _bitstream(buffer.getvalue())))
        self.frames += 1

    def finish(self) -> None:
        end = self.handle.tell()
        self.handle.seek(4)
        self.handle.write(struct.pack("<I", end - 8))
        self.handle.seek(end)

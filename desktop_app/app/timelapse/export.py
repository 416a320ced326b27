"""Exporting the timelapse: the spool read back, as an MP4 (H.264, yuv420p, through PyAV's
FFmpeg) or an animated WebP (Pillow), sketch | picture side by side or the picture alone, at
a chosen speed.

Each frame lasts the time to the next one divided by the speed, within bounds: a frame
shorter than ``min_ms`` is skipped (the film never runs faster than 1000 / min_ms frames a
second) and a pause longer than ``max_ms`` is cut to it (a coffee break is not a still film).
One frame is decoded at a time, and the file appears only when complete (a temporary file
renamed into place), so a failure or a cancel leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from desktop_app.app.timelapse import spool
from desktop_app.app.timelapse.webp import AnimatedWebPWriter
from desktop_app.core.errors import LiveCanvasError, OutputError, RenderCancelled
from desktop_app.core.log import log_error
from desktop_app.core.metadata import atomic_path

SPEEDS = (1, 2, 4, 8, 16)
MIN_FRAME_MS = 40  # 25 frames a second at most
MAX_FRAME_MS = 1000  # a longer pause shows for a second
LAST_FRAME_MS = 2000  # the film ends on the last picture, long enough to see it
H264_ENCODERS = ("libx264", "libopenh264")  # whichever this PyAV's FFmpeg has

Progress = Callable[[int, int], None]  # frames done, frames in all


@dataclass(frozen=True)
class TimelapseOptions:
    format: str = "mp4"  # or "webp"
    layout: str = "side"  # sketch | picture, or "picture" alone
    speed: float = 4.0
    min_ms: int = MIN_FRAME_MS
    max_ms: int = MAX_FRAME_MS


@dataclass(frozen=True)
class ExportReport:
    path: Path
    frames: int  # in the film
    duration_ms: int
    notices: tuple[str, ...]  # damaged parts of the spool that were dropped


def plan(
    frames: tuple[spool.FrameRef, ...], options: TimelapseOptions
) -> list[tuple[spool.FrameRef, int]]:
    """The frames of the film with their durations in milliseconds."""
    if not frames:
        return []
    kept: list[tuple[spool.FrameRef, int]] = []
    shown_ms = 0.0  # how long the last kept frame has lasted so far
    for ref, following in zip(frames, (*frames[1:], None), strict=True):
        gap: float
        if following is None:
            gap = LAST_FRAME_MS
        elif following.segment != ref.segment:  # recording was off, or the app restarted
            gap = options.max_ms
        else:
            gap = max(0.0, following.time_s - ref.time_s) * 1000 / options.speed
        if kept and shown_ms < options.min_ms and following is not None:
            shown_ms += gap  # too soon after the last kept frame: this one is skipped
            continue
        if kept:
            kept[-1] = (kept[-1][0], round(min(max(shown_ms, options.min_ms), options.max_ms)))
        kept.append((ref, 0))
        shown_ms = gap
    if kept:
        kept[-1] = (kept[-1][0], LAST_FRAME_MS)
    return kept


def film_size(frames: list[tuple[spool.FrameRef, int]], layout: str) -> tuple[int, int]:
    """The largest picture (frames drawn in motion may be smaller), sketch beside it or not;
    even sides, as 4:2:0 video needs."""
    width = max(ref.width for ref, _ in frames)
    height = max(ref.height for ref, _ in frames)
    if layout == "side":
        width *= 2
    return width - width % 2, height - height % 2


def _decode(data: bytes, size: tuple[int, int]):
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        return image if image.size == size else image.resize(size, Image.Resampling.BILINEAR)


def compose(ref: spool.FrameRef, size: tuple[int, int], layout: str) -> np.ndarray:
    """One frame of the film: the sketch (a white page if none was recorded) left of the
    picture, or the picture alone, at ``size``."""
    from PIL import Image

    picture_bytes, sketch_bytes = spool.read_frame(ref)
    if layout != "side":
        return np.asarray(_decode(picture_bytes, size))
    half = (size[0] // 2, size[1])
    frame = Image.new("RGB", size, "white")
    if sketch_bytes:
        frame.paste(_decode(sketch_bytes, half), (0, 0))
    frame.paste(_decode(picture_bytes, half), (size[0] - half[0], 0))
    return np.asarray(frame)


def h264_encoder() -> str:
    import av

    for name in H264_ENCODERS:
        with contextlib.suppress(Exception):  # av raises its own "unknown codec" types
            av.codec.Codec(name, "w")
            return name
    raise OutputError("this PyAV build has no H.264 encoder (libx264 or libopenh264)")


def write_mp4(path: Path, frames: Iterator[tuple[np.ndarray, int]], size: tuple[int, int]) -> None:
    """Variable frame durations as timestamps in milliseconds. No B-frames: with them the
    MP4 muxer takes the last frame's duration from the decode order and the film's end is
    cut short; a timelapse loses little by it."""
    import av

    durations: dict[int, int] = {}
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as film:
        stream = film.add_stream(h264_encoder(), options={"crf": "20", "bf": "0"})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"  # what ordinary players decode
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0

        def mux(packets) -> None:
            for packet in packets:
                packet.duration = durations.pop(packet.pts, 0)
                film.mux(packet)

        for image, duration_ms in frames:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            durations[pts] = duration_ms
            pts += duration_ms
            mux(stream.encode(frame))
        mux(stream.encode())


def write_webp(path: Path, frames: Iterator[tuple[np.ndarray, int]], size: tuple[int, int]) -> None:
    with open(path, "r+b") as handle:
        writer = AnimatedWebPWriter(handle, size)
        for image, duration_ms in frames:
            writer.add(image, duration_ms)
        writer.finish()


def export_timelapse(
    directory: Path,
    path: Path,
    options: TimelapseOptions,
    should_cancel: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
) -> ExportReport:
    """Write the recording in ``directory`` to ``path``; raises a LiveCanvasError (one
    line) when it cannot, RenderCancelled when asked to stop."""
    index = spool.read_index(directory)
    film = plan(index.frames, options)
    if not film:
        raise LiveCanvasError("There is no timelapse recorded yet: turn on Record timelapse.")
    size = film_size(film, options.layout)
    total_ms = sum(duration for _, duration in film)

    def frames() -> Iterator[tuple[np.ndarray, int]]:
        for done, (ref, duration_ms) in enumerate(film):
            if should_cancel():
                raise RenderCancelled("the timelapse export was cancelled")
            yield compose(ref, size, options.layout), duration_ms
            if progress is not None:
                progress(done + 1, len(film))

    write = write_mp4 if options.format == "mp4" else write_webp
    with atomic_path(Path(path)) as tmp:
        try:
            write(tmp, frames(), size)
        except (LiveCanvasError, OSError):
            raise
        except Exception as err:  # noqa: BLE001 - an encoder's own error types, said in one line
            log_error(err, "encoding the timelapse")
            first = (str(err).splitlines() or [type(err).__name__])[0]
            raise OutputError(f"the timelapse could not be encoded ({first})") from None
    return ExportReport(Path(path), len(film), total_ms, index.notices)

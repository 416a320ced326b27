"""Timelapse export: the spool as an MP4 (H.264, yuv420p) and an animated WebP, decoded back;
the speed and the frame-duration bounds; damaged spools and unwritable places."""

from __future__ import annotations

import io
import os

import av
import numpy as np
import pytest
from PIL import Image

from desktop_app.app.timelapse import spool
from desktop_app.app.timelapse.export import (
    LAST_FRAME_MS,
    TimelapseOptions,
    export_timelapse,
    plan,
)
from desktop_app.app.timelapse.recorder import jpeg
from desktop_app.core.errors import LiveCanvasError, OutputError, RenderCancelled

SIDE = 64


def _picture(n: int) -> np.ndarray:
    """Flat colours, far apart, so lossy codecs keep them recognisable."""
    return np.full((SIDE, SIDE, 3), (40 * n % 256, 200, 255 - 40 * n % 256), np.uint8)


def _sketch() -> np.ndarray:
    page = np.full((SIDE, SIDE, 3), 255, np.uint8)
    page[:, SIDE // 2 - 2 : SIDE // 2 + 2] = 0
    return page


def _record(directory, times, sketch_every=1) -> None:
    writer = spool.SegmentWriter(directory)
    for n, at in enumerate(times):
        sketch = jpeg(_sketch()) if n % sketch_every == 0 else b""
        writer.append(spool.encode_record(at, (SIDE, SIDE), jpeg(_picture(n)), sketch))
    writer.close()


def _webp_frames(path) -> list[tuple[np.ndarray, int]]:
    frames = []
    with Image.open(path) as image:
        for n in range(image.n_frames):
            image.seek(n)
            image.load()
            frames.append((np.asarray(image.convert("RGB")).astype(int), image.info["duration"]))
    return frames


def test_webp_side_by_side_has_every_frame_with_sketch_and_picture(tmp_path):
    _record(tmp_path / "spool", [0.0, 0.5, 1.0, 1.5], sketch_every=2)
    out = tmp_path / "film.webp"
    report = export_timelapse(tmp_path / "spool", out, TimelapseOptions("webp", "side", 1.0))
    frames = _webp_frames(out)
    assert report.frames == len(frames) == 4
    assert [duration for _, duration in frames] == [500, 500, 500, LAST_FRAME_MS]
    for n, (image, _) in enumerate(frames):
        assert image.shape == (SIDE, 2 * SIDE, 3)
        assert np.abs(image[:, SIDE:] - _picture(n)).mean() < 4  # the right half: the picture
        assert np.abs(image[:, :SIDE] - _sketch()).mean() < 8  # the left: its sketch


def test_mp4_is_h264_yuv420p_with_every_frame_at_its_time(tmp_path):
    _record(tmp_path / "spool", [0.0, 0.2, 0.4, 10.0, 10.4])
    out = tmp_path / "film.mp4"
    options = TimelapseOptions("mp4", "picture", 2.0)
    report = export_timelapse(tmp_path / "spool", out, options)
    with av.open(str(out)) as film:
        stream = film.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        decoded = [(frame.time, frame.to_ndarray(format="rgb24")) for frame in film.decode(stream)]
        length = film.duration / av.time_base
    assert report.frames == len(decoded) == 5
    # 2x: 100 ms, 100 ms, then 4.8 s of pause cut to a second, 200 ms, and the last frame.
    assert [round(at * 1000) for at, _ in decoded] == [0, 100, 200, 1200, 1400]
    assert length == pytest.approx(1.4 + LAST_FRAME_MS / 1000, abs=0.01)
    for n, (_, image) in enumerate(decoded):
        assert image.shape == (SIDE, SIDE, 3)
        assert np.abs(image.astype(int) - _picture(n)).mean() < 6


def test_frames_faster_than_the_minimum_are_skipped(tmp_path):
    times = [n * 0.01 for n in range(100)]  # 100 frames a second for a second
    _record(tmp_path, times)
    film = plan(spool.read_index(tmp_path).frames, TimelapseOptions(speed=1.0, min_ms=40))
    durations = [duration for _, duration in film]
    assert 20 <= len(film) <= 26 and min(durations) >= 40
    assert sum(durations[:-1]) == pytest.approx(990, abs=40)  # real time, minus the last
    faster = plan(spool.read_index(tmp_path).frames, TimelapseOptions(speed=4.0, min_ms=40))
    assert sum(duration for _, duration in faster[:-1]) == pytest.approx(990 / 4, abs=40)
    assert len(faster) <= len(film) // 3 + 1


def test_a_damaged_tail_keeps_the_frames_before_it(tmp_path):
    _record(tmp_path, [0.0, 0.1, 0.2])
    segment = spool.segments(tmp_path)[0]
    good = segment.read_bytes()
    for damage in (
        good + good[8:40],  # a record cut off by a crash
        good + (2**31).to_bytes(4, "little") + b"\0" * 40,  # an absurd length
        good[:-5] + b"xxxxx",  # the last record's bytes changed: its checksum fails
    ):
        segment.write_bytes(damage)
        index = spool.read_index(tmp_path)
        assert len(index.frames) in (2, 3) and len(index.notices) == 1
        assert "dropped" in index.notices[0]
        export_timelapse(tmp_path, tmp_path / "out.webp", TimelapseOptions("webp"))


def test_a_segment_of_random_bytes_is_dropped_with_a_line(tmp_path):
    rng = np.random.default_rng(7)
    _record(tmp_path, [0.0, 0.1])
    (tmp_path / "segment-000002.lctl").write_bytes(rng.bytes(5000))
    index = spool.read_index(tmp_path)
    assert len(index.frames) == 2 and len(index.notices) == 1
    report = export_timelapse(tmp_path, tmp_path / "out.mp4", TimelapseOptions("mp4"))
    assert report.frames == 2 and report.notices == index.notices


def test_nothing_recorded_is_one_line(tmp_path):
    with pytest.raises(LiveCanvasError, match="no timelapse recorded"):
        export_timelapse(tmp_path, tmp_path / "out.mp4", TimelapseOptions())


@pytest.mark.parametrize("fmt", ["mp4", "webp"])
def test_an_unwritable_place_is_one_line_and_leaves_nothing(tmp_path, fmt):
    _record(tmp_path / "spool", [0.0, 0.1])
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    for target in (blocker / f"out.{fmt}", tmp_path / "missing" / f"out.{fmt}"):
        with pytest.raises(OutputError) as failed:
            export_timelapse(tmp_path / "spool", target, TimelapseOptions(fmt))
        assert str(failed.value).startswith(f"cannot write {target}") and "\n" not in str(
            failed.value
        )
    assert sorted(os.listdir(tmp_path)) == ["a-file", "spool"]


def test_a_cancelled_export_leaves_no_file(tmp_path):
    _record(tmp_path / "spool", [0.0, 0.1, 0.2])
    asked = []

    def cancel_after_one() -> bool:
        asked.append(1)
        return len(asked) > 1

    with pytest.raises(RenderCancelled):
        export_timelapse(
            tmp_path / "spool", tmp_path / "out.mp4", TimelapseOptions(), cancel_after_one
        )
    assert sorted(os.listdir(tmp_path)) == ["spool"]


def test_smaller_frames_are_scaled_to_the_film(tmp_path):
    writer = spool.SegmentWriter(tmp_path)
    small = np.full((SIDE // 2, SIDE // 2, 3), 90, np.uint8)
    writer.append(spool.encode_record(0.0, (SIDE // 2, SIDE // 2), jpeg(small), b""))
    writer.append(spool.encode_record(0.1, (SIDE, SIDE), jpeg(_picture(1)), b""))
    writer.close()
    export_timelapse(tmp_path, tmp_path / "out.webp", TimelapseOptions("webp", "picture"))
    frames = _webp_frames(tmp_path / "out.webp")
    assert [image.shape for image, _ in frames] == [(SIDE, SIDE, 3)] * 2
    assert np.abs(frames[0][0] - 90).mean() < 4
    with Image.open(io.BytesIO((tmp_path / "out.webp").read_bytes())) as image:
        assert image.is_animated

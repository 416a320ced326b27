"""The timelapse recorder: shown frames with their sketches and times go to the spool off the
UI thread, duplicates are dropped, the queue is bounded, and the spool survives a crash."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace

import numpy as np
from PIL import Image

from desktop_app.app.timelapse import recorder as timelapse
from desktop_app.app.timelapse import spool as timelapse_spool
from desktop_app.app.timelapse.recorder import MAX_WAITING


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def _loaded(qtbot, controller) -> None:
    with qtbot.waitSignal(controller.gate.engine_loaded, timeout=5000):
        controller.load_model()
    qtbot.waitUntil(lambda: controller.frames.current is not None, timeout=5000)


def _stroke(qtbot, controller) -> None:
    """A new line on the sketch, and wait until its frame is on screen."""
    before = controller.frames.current.request_id
    controller.sketch.draw()
    controller.sketch_changed(False)
    qtbot.waitUntil(lambda: controller.frames.current.request_id > before, timeout=5000)


def _index(controller) -> timelapse_spool.SpoolIndex:
    controller.timelapse.wait()
    return timelapse_spool.read_index(controller.timelapse.directory)


def test_recording_is_off_by_default_and_records_nothing(qtbot, rig):
    controller = rig()
    _loaded(qtbot, controller)
    _stroke(qtbot, controller)
    assert not controller.state.timelapse_recording and not controller.timelapse.recording
    assert _index(controller).frames == ()


def test_shown_frames_are_recorded_with_their_sketches_and_times(qtbot, rig):
    controller = rig()
    _loaded(qtbot, controller)
    controller.state.timelapse_recording = True
    shown, sketches = [], []
    started = time.monotonic()
    for _ in range(3):
        _stroke(qtbot, controller)
        shown.append(controller.frames.current.image)
        sketches.append(controller.frames.drawing_of(controller.frames.current).strokes)
    frames = _index(controller).frames
    assert len(frames) == 3
    times = [ref.time_s for ref in frames]
    assert times == sorted(times) and started <= times[0] <= time.monotonic()
    for ref, picture, sketch in zip(frames, shown, sketches, strict=True):
        picture_bytes, sketch_bytes = timelapse_spool.read_frame(ref)
        assert (ref.width, ref.height) == (picture.shape[1], picture.shape[0])
        # JPEG is close, not exact: the sketch's lines differ per frame, so each is its own.
        assert np.abs(_decode(picture_bytes) - picture).mean() < 3
        assert np.abs(_decode(sketch_bytes) - sketch).mean() < 3
    qtbot.waitUntil(lambda: controller.timelapse.frame_count == 3, timeout=5000)


def test_the_same_picture_twice_is_recorded_once(qtbot, rig):
    controller = rig()
    _loaded(qtbot, controller)
    controller.state.timelapse_recording = True
    _stroke(qtbot, controller)
    current = controller.frames.current
    controller.frames.show_result(current)  # a filmstrip click on the same picture
    controller.frames.show_result(replace(current, image=current.image.copy()))
    _stroke(qtbot, controller)
    assert len(_index(controller).frames) == 2


def test_the_ui_thread_only_queues_and_the_queue_is_bounded(qtbot, rig, monkeypatch):
    controller = rig()
    _loaded(qtbot, controller)
    encoded_on, release = [], threading.Event()
    real_jpeg = timelapse.jpeg

    def slow_jpeg(image):
        encoded_on.append(threading.current_thread() is threading.main_thread())
        release.wait(10)
        return real_jpeg(image)

    monkeypatch.setattr(timelapse, "jpeg", slow_jpeg)
    controller.state.timelapse_recording = True
    base = controller.frames.current

    def show(n: int) -> None:
        image = np.full_like(base.image, n)
        controller.frames.show_result(replace(base, image=image, request_id=10_000 + n))

    show(0)
    qtbot.waitUntil(lambda: len(encoded_on) == 1, timeout=5000)  # the writer is stuck on it
    started = time.perf_counter()
    for n in range(1, 30):  # the rest wait, or give way
        show(n)
    queued_in = time.perf_counter() - started
    recorder = controller.timelapse
    assert recorder.dropped == 30 - 1 - MAX_WAITING
    assert queued_in < 1.0  # 30 frames with a writer stuck for 10 s: nothing waited on it
    release.set()
    frames = _index(controller).frames
    assert len(frames) == 1 + MAX_WAITING and encoded_on and not any(encoded_on)
    last_picture, _ = timelapse_spool.read_frame(frames[-1])
    assert np.abs(_decode(last_picture) - 29).mean() < 2  # the newest frames are the kept ones


def test_a_limit_on_disk_stops_recording_with_a_message(qtbot, rig):
    controller = rig()
    controller.timelapse.max_bytes = 1  # the first frame is past it
    _loaded(qtbot, controller)
    with qtbot.waitSignal(controller.timelapse.notice, timeout=5000) as said:
        controller.state.timelapse_recording = True
        _stroke(qtbot, controller)
    assert "limit" in said.args[0] and not controller.state.timelapse_recording


def test_discard_deletes_the_recording(qtbot, rig):
    controller = rig()
    _loaded(qtbot, controller)
    controller.state.timelapse_recording = True
    _stroke(qtbot, controller)
    qtbot.waitUntil(lambda: controller.timelapse.frame_count == 1, timeout=5000)
    controller.timelapse.discard()
    qtbot.waitUntil(lambda: controller.timelapse.frame_count == 0, timeout=5000)
    assert _index(controller).frames == ()
    _stroke(qtbot, controller)  # recording goes on, into a new file
    assert len(_index(controller).frames) == 1


_CRASHING_WRITER = """
import os, signal, sys
from pathlib import Path
from desktop_app.app.timelapse import spool
writer = spool.SegmentWriter(Path(sys.argv[1]))
for n in range(5):
    writer.append(spool.encode_record(float(n), (8, 8), b"picture%d" % n, b"sketch"))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_records_flushed_before_a_kill_9_are_there_after_it(tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", _CRASHING_WRITER, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},  # this desktop_app
        capture_output=True,
    )
    assert run.returncode == -9, run.stderr
    index = timelapse_spool.read_index(tmp_path)
    assert [ref.time_s for ref in index.frames] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert timelapse_spool.read_frame(index.frames[4]) == (b"picture4", b"sketch")
    assert index.notices == ()


def test_a_new_run_writes_a_new_segment_after_the_old_ones(tmp_path):
    first = timelapse_spool.SegmentWriter(tmp_path)
    first.append(timelapse_spool.encode_record(1.0, (8, 8), b"a", b"s"))  # never closed
    second = timelapse_spool.SegmentWriter(tmp_path)
    second.append(timelapse_spool.encode_record(0.5, (8, 8), b"b", b""))
    second.close()
    frames = timelapse_spool.read_index(tmp_path).frames
    assert [ref.segment for ref in frames] == [0, 1]
    assert timelapse_spool.read_frame(frames[1]) == (b"b", b"")  # no sketch in its run yet

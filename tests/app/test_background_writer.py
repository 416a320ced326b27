"""The background writers (autosave, timelapse) survive any failure: it is logged with its
traceback, said once per run of failures, and the next change is written again."""

from __future__ import annotations

import numpy as np
import pytest
from test_timelapse import _loaded
from test_timelapse import _stroke as new_frame

from desktop_app.app import files
from desktop_app.app.timelapse import recorder, spool
from desktop_app.core import log


@pytest.fixture
def log_file(tmp_path):
    path = log.start_log(tmp_path / "logs")
    yield path
    log.stop_log()


def _failing_first(monkeypatch, owner, name: str, error: BaseException, times: int) -> list:
    """``owner.name`` raises ``error`` on its first ``times`` calls, then does its work."""
    real = getattr(owner, name)
    calls = []

    def sometimes(*args, **kwargs):
        calls.append(args)
        if len(calls) <= times:
            raise type(error)(*error.args)  # a new one each time, as a real failure is
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, sometimes)
    return calls


def _save(qtbot, controller) -> None:
    controller.sketch.draw()
    controller.session.sketch_changed(False)
    controller.session.wait()
    qtbot.wait(20)  # the writer's signals are queued to this thread


def test_an_unexpected_autosave_failure_is_said_once_and_the_next_stroke_is_saved(
    qtbot, rig, tmp_path, monkeypatch, log_file
):
    controller = rig()
    said = []
    controller.session.notice.connect(said.append)
    calls = _failing_first(
        monkeypatch, files.Autosave, "save", PermissionError(13, "Permission denied"), 2
    )
    _save(qtbot, controller)
    _save(qtbot, controller)  # fails again: the same run of failures, not said again
    assert len(calls) == 2 and not controller.session.busy
    assert said == ["Autosave failed: PermissionError: [Errno 13] Permission denied; retrying"]
    _save(qtbot, controller)
    restored = files.Autosave(tmp_path / "data").load()
    assert np.array_equal(restored.sketch, controller.sketch.array)
    text = log_file.read_text()
    assert text.count("Traceback (most recent call last)") == 2
    assert "Autosave failed: PermissionError" in text and "works again" in text
    # A new run of failures after a good save is said again.
    _failing_first(monkeypatch, files.Autosave, "save", MemoryError(), 1)
    _save(qtbot, controller)
    assert said[1:] == ["Autosave failed: MemoryError; retrying"]


def test_a_reference_whose_save_failed_is_saved_with_the_next_stroke(
    qtbot, rig, tmp_path, monkeypatch
):
    controller = rig()
    reference = np.full((128, 128, 3), (10, 200, 30), np.uint8)
    controller.session.reference_source = lambda: (1, reference)
    _failing_first(monkeypatch, files, "save_image", ValueError("the encoder broke"), 1)
    _save(qtbot, controller)  # the sketch fails first: the new reference is not written
    _save(qtbot, controller)  # the reference did not change since, and is written now
    restored = files.Autosave(tmp_path / "data").load()
    assert np.array_equal(restored.reference, reference)
    assert np.array_equal(restored.sketch, controller.sketch.array)


def _stroke(qtbot, controller) -> None:
    """A new line, its frame on screen, and the timelapse writer done with it."""
    new_frame(qtbot, controller)
    controller.timelapse.wait()
    qtbot.wait(20)


def test_an_unexpected_timelapse_failure_is_said_once_and_the_next_frame_is_recorded(
    qtbot, rig, monkeypatch, log_file
):
    controller = rig()
    said = []
    controller.timelapse.notice.connect(said.append)
    _loaded(qtbot, controller)
    controller.state.timelapse_recording = True
    _failing_first(monkeypatch, recorder, "jpeg", RuntimeError("encoder state lost"), 2)
    _stroke(qtbot, controller)
    _stroke(qtbot, controller)
    assert said == ["Timelapse recording failed: RuntimeError: encoder state lost; retrying"]
    _stroke(qtbot, controller)
    frames = spool.read_index(controller.timelapse.directory).frames
    assert len(frames) == 1 and not controller.timelapse.busy
    picture, _sketch = spool.read_frame(frames[0])
    assert picture[:2] == b"\xff\xd8"  # a JPEG: the third frame, written whole
    assert log_file.read_text().count("RuntimeError: encoder state lost") >= 2


def test_a_failed_autosave_is_tried_again_by_itself_when_nothing_changes(
    qtbot, rig, tmp_path, monkeypatch, log_file
):
    from desktop_app.app import session

    monkeypatch.setattr(session, "RETRY_DELAY_MS", 50)
    controller = rig()
    calls = _failing_first(monkeypatch, files.Autosave, "save", OSError(28, "No space"), 1)
    _save(qtbot, controller)  # fails; no stroke follows
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=5000)
    controller.session.wait()
    restored = files.Autosave(tmp_path / "data").load()
    assert np.array_equal(restored.sketch, controller.sketch.array)
    qtbot.wait(200)
    assert len(calls) == 2  # saved: no more tries

"""App-layer tests (worker, controller, files): offscreen Qt, no real model."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from doubles import FakeEngine, fake_loader  # noqa: E402
from PySide6.QtCore import QStandardPaths  # noqa: E402

from desktop_app.app.controller import Controller  # noqa: E402
from desktop_app.app.state import LiveState  # noqa: E402
from desktop_app.app.worker import RenderWorker  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _qt_test_mode(qapp):
    QStandardPaths.setTestModeEnabled(True)
    yield


class Sketch:
    """A sketch source whose pixels the test changes by hand."""

    def __init__(self, size: int = 128) -> None:
        import numpy as np

        self.array = np.full((size, size, 3), 255, np.uint8)
        self.strokes = 0

    def draw(self) -> None:
        self.strokes += 1
        self.array[self.strokes % self.array.shape[0], :, :] = 0

    def __call__(self):
        return self.array.copy()


@pytest.fixture
def rig(qtbot, tmp_path):
    """A controller + worker on a fake engine with a hand-driven sketch; stopped at the end."""
    made = []

    def make(engine: FakeEngine | None = None, error: Exception | None = None, **kwargs):
        engine = engine or FakeEngine()
        state = LiveState()
        state.preset = "fake"
        state.size = 128
        worker = RenderWorker(fake_loader(engine, error))
        sketch = Sketch()
        controller = Controller(state, worker, sketch_source=sketch, data_dir=tmp_path / "data",
                                **kwargs)
        state.export_dir = str(tmp_path / "exports")
        controller.engine = engine
        controller.sketch = sketch
        made.append(controller)
        return controller

    yield make
    for controller in made:
        assert controller.worker.stop(2000)

"""The worker on the real engine's built-in ``tiny`` model (noise, no download)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from desktop_app.app.worker import RenderWorker
from desktop_app.core.types import RenderRequest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("desktop_app.engine.loading") is None,
    reason="desktop_app.engine.loading is not written yet",
)


@pytest.mark.timeout(300)
def test_tiny_loads_renders_and_exports_in_the_worker(qtbot):
    worker = RenderWorker()  # the real load_engine
    try:
        with qtbot.waitSignal(worker.model_loaded, timeout=120_000) as loaded:
            worker.load_model("tiny", "cpu")
        assert loaded.args[0].is_noise
        sketch = np.full((256, 256, 3), 255, np.uint8)
        sketch[100:110, 20:230] = 0
        request = RenderRequest(sketch, prompt="a line", size=256, request_id=3)
        with qtbot.waitSignal(worker.result_ready, timeout=120_000) as ready:
            worker.submit(request)
        result = ready.args[0]
        assert result.request_id == 3 and result.image.shape == (256, 256, 3)
        with qtbot.waitSignal(worker.job_done, timeout=120_000) as exported:
            worker.submit_job(lambda engine: engine.export_image(result))
        assert exported.args[1].shape == (256, 256, 3)
    finally:
        assert worker.stop(10_000)

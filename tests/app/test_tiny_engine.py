"""The worker on the real engine's built-in ``tiny`` model (noise, no download)."""

from __future__ import annotations

import weakref

import numpy as np
import pytest
from PIL import Image

from desktop_app.app.jobs import ExportJob
from desktop_app.app.worker import RenderWorker
from desktop_app.core.types import RenderRequest


def export(qtbot, worker, result, folder) -> np.ndarray:
    paths, failures = [], []
    worker.submit_job(ExportJob(result, folder), paths.append, failures.append)
    qtbot.waitUntil(lambda: bool(paths or failures), timeout=120_000)
    assert failures == []
    with Image.open(paths[0]) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.timeout(300)
def test_tiny_renders_exports_and_a_reload_never_decodes_old_latents(qtbot, tmp_path):
    worker = RenderWorker()  # the real load_engine
    try:
        with qtbot.waitSignal(worker.model_loaded, timeout=120_000) as loaded:
            worker.load_model("tiny", "cpu")
        first_load = loaded.args[0]
        assert first_load.is_noise
        sketch = np.full((256, 256, 3), 255, np.uint8)
        sketch[100:110, 20:230] = 0
        request = RenderRequest(sketch, prompt="a line", size=256, request_id=3)
        with qtbot.waitSignal(worker.result_ready, timeout=120_000) as ready:
            worker.submit(request)
        result = ready.args[0]
        assert result.request_id == 3 and result.image.shape == (256, 256, 3)
        assert result.load_id == first_load.load_id
        # The same model: the export is the full VAE's decode, not the preview.
        full = export(qtbot, worker, result, tmp_path / "a")
        assert full.shape == (256, 256, 3) and not np.array_equal(full, result.image)

        # The same name loaded again is another load: the old latents are not decoded by it.
        # The old model is freed before the new one loads (the collector still sees it, though
        # the imports' objects are frozen out of its sight).
        old_unet = weakref.ref(worker._engine.parts.unet)
        with qtbot.waitSignal(worker.model_loaded, timeout=120_000) as reloaded:
            worker.load_model("tiny", "cpu")
        assert old_unet() is None
        assert reloaded.args[0].model == first_load.model
        assert reloaded.args[0].load_id != first_load.load_id
        assert np.array_equal(export(qtbot, worker, result, tmp_path / "b"), result.image)
    finally:
        assert worker.stop(10_000)

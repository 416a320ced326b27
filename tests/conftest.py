"""Shared fixtures: tiny models saved with save_pretrained and loaded back through our loader.

No test here reaches the network: the Hugging Face hub is switched to offline mode for the
whole session, and HF_HOME points at an empty temporary cache.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="live-canvas-hf-")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    from model_factory import save_tiny_pipeline

    return save_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture(scope="session")
def tiny_sd21_folder(tmp_path_factory) -> Path:
    from model_factory import save_tiny_pipeline

    return save_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd21", family="sd21")


@pytest.fixture(scope="session")
def engine(tiny_folder):
    """The tiny SDXL-shaped model, loaded from disk through the real loading code."""
    from desktop_app.engine.loading import load_engine

    return load_engine(str(tiny_folder), device="cpu")


@pytest.fixture
def sketch() -> np.ndarray:
    """A white page with a black circle outline and a cross, like a first few strokes."""
    img = np.full((512, 512, 3), 255, np.uint8)
    yy, xx = np.mgrid[:512, :512]
    ring = np.abs(np.hypot(yy - 256, xx - 256) - 150) < 4
    img[ring] = 0
    img[250:262, 100:412] = 0
    img[100:412, 250:262] = 0
    return img

"""Shared fixtures: tiny models saved with save_pretrained and loaded back through our loader.

No test here reaches the network: the Hugging Face hub is switched to offline mode for the
whole session, and HF_HOME points at an empty temporary cache.

The fake-Hub fixtures (``sockets``, ``cache``, ``fake``, ``hub``, ``gate``) serve the download
tests in tests/, tests/app/ and tests/ui/. None is autouse: a module that must refuse sockets in
every test says ``pytestmark = pytest.mark.usefixtures("sockets")``, and a module whose Hub
holds other repos, or whose gate holds elsewhere, overrides ``hub_repos`` or ``gate_chunk``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="live-canvas-hf-")
atexit.register(shutil.rmtree, os.environ["HF_HOME"], ignore_errors=True)

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


@pytest.fixture
def sockets(monkeypatch) -> list:
    """Every attempt to open a connection is recorded (the returned list) and refused."""
    attempts = []

    def refuse(*args, **_kwargs):
        attempts.append(args)
        raise OSError("a test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face hub cache in the test's temporary folder."""
    from huggingface_hub import constants

    folder = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(folder))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(folder))
    return folder


@pytest.fixture
def hub_repos() -> dict[str, dict[str, bytes]]:
    """The repos the fake Hub serves: sd-turbo's. A module overrides this to serve others."""
    from fake_hub import sd_turbo_files

    return sd_turbo_files()


@pytest.fixture
def fake(tmp_path, monkeypatch, cache, hub_repos):
    """The fake Hub serving ``hub_repos``, installed while HF_HUB_OFFLINE stays set (as in the
    whole session); ``hub`` is the same Hub with the offline switch off."""
    import fake_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", fake_hub.CHUNK)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = fake_hub.FakeHub(tmp_path / "hub")
    for repo, files in hub_repos.items():
        hub.add_repo(repo, files)
    hub.install(monkeypatch)
    return hub


@pytest.fixture
def hub(fake, monkeypatch):
    """The fake Hub, online: conftest makes the whole session offline, these tests talk to it."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return fake


@pytest.fixture
def gate_chunk() -> int:
    """How many body chunks of the UNet ``gate`` lets through before holding it."""
    return 3


@pytest.fixture
def gate(monkeypatch, gate_chunk):
    """Holds the UNet's body part-way until the test releases it (then the download goes on).

    Yields ``(reached, release)``: ``reached`` is set once the body is held; setting ``release``
    lets it go on (done at teardown in any case).
    """
    import fake_hub

    reached, release = threading.Event(), threading.Event()
    original = fake_hub._Body.__iter__

    def body(self):
        for i, chunk in enumerate(original(self)):
            if self.key.endswith(fake_hub.UNET16) and i == gate_chunk:
                reached.set()
                release.wait(10)
            yield chunk

    monkeypatch.setattr(fake_hub._Body, "__iter__", body)
    yield reached, release
    release.set()

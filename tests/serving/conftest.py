"""The server on Ray Serve, started on 127.0.0.1 with the tiny model on CPU replicas.

These tests need the serve extra (``pip install -e ".[serve]"``); without Ray each module
skips, and ``.ci/run`` runs them after the main suite with the extra installed.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def local_tiny():
    """The tiny model in this process, for what a local render of a request gives."""
    from desktop_app.engine.loading import load_engine

    return load_engine("tiny", device="cpu")

"""The engine functions the app calls, imported lazily (the engine pulls in torch).

Each wrapper imports its engine module on first call, inside whichever thread calls it (the
render worker), so importing the app layer never imports torch. A server's engine
(``desktop_app.remote``) needs no torch at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def load_engine(
    model: str,
    device: str | None = None,
    progress: Callable[[str], None] | None = None,
    controlnet: str | None = None,
    preview_decoder: str | None = None,
    compile_models: bool = False,
) -> Any:
    """``controlnet`` and ``preview_decoder`` are what a user preset adds (see
    ``resolving_loader``); ``compile_models`` is ``--compile``."""
    from desktop_app.engine.loading import load_engine as _load_engine

    return _load_engine(
        model,
        device=device,
        controlnet=controlnet,
        preview_decoder=preview_decoder,
        progress=progress,
        compile_models=compile_models,
    )


def connect_server(
    model: str,
    progress: Callable[[str], None] | None = None,
    token_file: str = "",
    ca_file: str = "",
) -> Any:
    """The engine of ``server:URL``: frames render on that server (no torch needed here)."""
    from desktop_app.remote.engine import connect

    return connect(model, token_file or None, ca_file or None, progress)


def lineart_from_photo(image: np.ndarray) -> np.ndarray:
    from desktop_app.engine.sketch import lineart_from_photo as _lineart

    return _lineart(image)

"""The engine functions the app calls, imported lazily (the engine pulls in torch).

Each wrapper imports its engine module on first call, inside whichever thread calls it (the
render worker), so importing the app layer never imports torch. A server's engine
(``desktop_app.remote``) needs no torch at all.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import numpy as np

_imports_frozen = False


def _freeze_imports() -> None:
    """Once, after the engine's imports and before the first model exists: move every object
    alive now (torch's, diffusers' and transformers' modules: half a million) out of the
    collector's sight. They live as long as the process anyway, and the full collection the
    worker runs before each load (to free the old model) then takes milliseconds, not 0.4 s
    of a 2-core CPU, so a new model choice is served that much sooner."""
    global _imports_frozen
    if not _imports_frozen:
        _imports_frozen = True
        gc.collect()
        gc.freeze()


def load_engine(
    model: str,
    device: str | None = None,
    progress: Callable[[str], None] | None = None,
    controlnet: str | None = None,
    preview_decoder: str | None = None,
    compile_models: bool = False,
    backend: str = "pytorch",
    precision: str | None = None,
) -> Any:
    """``controlnet`` and ``preview_decoder`` are what a user preset adds (see
    ``resolving_loader``); ``compile_models`` is ``--compile``; ``backend`` and ``precision``
    are ``--backend openvino --precision P``."""
    from desktop_app.engine.loading import load_engine as _load_engine

    _freeze_imports()
    return _load_engine(
        model,
        device=device,
        controlnet=controlnet,
        preview_decoder=preview_decoder,
        progress=progress,
        compile_models=compile_models,
        backend=backend,
        precision=precision,
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

"""How the models' forwards are laid out and compiled for the device.

Convolutions run fastest channels-last on both cuDNN and oneDNN; ``torch.compile`` swaps the
per-frame forwards for compiled ones (``--compile``).
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Callable, Iterable, Iterator

import torch

# Each compiled module's eager forward (unbound: a bound one would keep the module alive).
_EAGER: weakref.WeakKeyDictionary[torch.nn.Module, Callable] = weakref.WeakKeyDictionary()


def to_channels_last(
    module: torch.nn.Module | None, progress: Callable[[str], None] | None, what: str
) -> None:
    """``module.to(memory_format=torch.channels_last)`` one layer at a time, so that
    ``progress`` hears "WHAT: N %" at each new percent of the weights."""
    if module is None:
        return
    layers = [
        m
        for m in module.modules()
        if any(t.dim() in (4, 5) for t in (*m.parameters(False), *m.buffers(False)))
    ]
    total = sum(t.numel() for m in layers for t in m.parameters(False)) or 1
    done, said = 0, -1
    for layer in layers:
        layer.to(memory_format=torch.channels_last)
        done += sum(t.numel() for t in layer.parameters(False))
        percent = done * 100 // total
        if progress is not None and percent != said:
            said = percent
            progress(f"{what}: {percent} %")


def compile_forwards(
    modules: Iterable[torch.nn.Module], device: torch.device, backend: str
) -> bool:
    """Swap each module's forward for a ``torch.compile``d one with static shapes; True when
    the compiled forwards replay CUDA graphs.

    The bound forward is compiled rather than the module, so the module objects stay (the
    stock pipeline in the bench shares them) and forward hooks still fire around the call
    (the bench times the forwards with them). Shapes are static: one graph per frame size,
    compiled on first use of that size, hence ``Engine.warm_up``.
    """
    cuda = device.type == "cuda"
    if cuda:
        # Frame shapes repeat, so cuDNN's per-shape algorithm search pays off at once.
        torch.backends.cudnn.benchmark = True
    mode = None
    if backend == "inductor" and cuda:
        # CUDA graphs: a one-step frame is thousands of small kernels, and their launch
        # cost, not the GPU, bounds the frame rate at preview sizes.
        mode = "reduce-overhead"
    for module in modules:
        # diffusers wraps the UNet's and the ControlNet's forward in one LoRA-scale
        # decorator; compiling the wrapper would put both models' graphs in one dynamo
        # cache (keyed by code object) under one recompile limit. The wrapper does nothing
        # for our calls (no attention kwargs, so the LoRA scale stays 1).
        _EAGER[module] = inspect.unwrap(type(module).forward)
        forward = _EAGER[module].__get__(module)
        module.forward = torch.compile(forward, dynamic=False, backend=backend, mode=mode)
    return mode == "reduce-overhead"


@contextlib.contextmanager
def eager_forwards(modules: Iterable[torch.nn.Module | None]) -> Iterator[None]:
    """While inside, each of ``modules`` whose forward ``compile_forwards`` swapped runs its
    eager original again: for a region frame's crop, whose shape changes with the strokes, a
    compile (and on CUDA a graph recording) per shape would cost more than it saves."""
    swapped = [(m, m.forward) for m in modules if m is not None and m in _EAGER]
    try:
        for module, _compiled in swapped:
            module.forward = _EAGER[module].__get__(module)
        yield
    finally:
        for module, compiled in swapped:
            module.forward = compiled

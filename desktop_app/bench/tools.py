"""The measuring instruments of ``live-canvas bench`` (``benchmark.py``): the sketch that
changes every frame, the forward timer, the memory probe, and the module set the runs share."""

from __future__ import annotations

import contextlib
import resource
import sys
import time

import torch

from desktop_app.engine.cpu_weights import PackedWeights, release_freed_memory

_TRIM_ABOVE_BYTES = 1 << 30


class SharedModules:
    """The modules every run uses, made ready for the run about to start, never timed:
    converted in place to its dtype (one parameter at a time, so the peak is the larger copy
    plus one tensor), and with the engine's packed CPU weights (``cpu_weights``) unpacked for
    the stock pipeline and packed again for the engine."""

    def __init__(
        self, modules: list[torch.nn.Module], dtype: torch.dtype, packing: PackedWeights | None
    ):
        self._modules = modules
        self._packing = packing
        self.dtype = dtype
        self.conversions = 0
        dense = sum(p.numel() * p.element_size() for m in modules for p in m.parameters())
        # Freed copies are handed back to the system only for big models, where they could
        # crowd out the next run's weights; for small ones there is nothing worth the page
        # faults that every next frame would then take.
        self._trim = dense + (packing.weight_bytes if packing else 0) > _TRIM_ABOVE_BYTES

    def use(self, dtype: torch.dtype, packed: bool = False) -> bool:
        """Ready for a run in ``dtype``; True when anything had to change."""
        packing, changed = self._packing, False
        if packing is not None and packing.packed and (not packed or dtype != self.dtype):
            packing.unpack()
            changed = True
        if dtype != self.dtype:
            for module in self._modules:
                module.to(dtype)  # keeps each tensor's memory format (channels-last stays)
            self.dtype = dtype
            self.conversions += 1
            changed = True
        if packing is not None and packed and not packing.packed:
            packing.pack()
            changed = True
        if changed and self._trim:
            release_freed_memory()
        return changed


class ForwardTimer:
    """Milliseconds spent inside the UNet, ControlNet and decoder forwards of one engine frame.

    Hooks on the modules themselves, so it times exactly the calls the engine makes with the
    inputs it makes them with. On CUDA each hook synchronises, so a forward's time includes its
    kernel launches and the kernels; elsewhere the ops run synchronously anyway.
    """

    def __init__(self, modules: list[torch.nn.Module], device: torch.device):
        self._sync = device.type == "cuda"
        self.enabled = False
        self.frame_ms = 0.0
        self._starts: dict[int, float] = {}
        self._handles = []
        for module in modules:
            self._handles.append(module.register_forward_pre_hook(self._before))
            self._handles.append(module.register_forward_hook(self._after))

    def _now(self) -> float:
        if self._sync:
            torch.cuda.synchronize()
        return time.perf_counter()

    def _before(self, module, _args) -> None:
        if self.enabled:
            self._starts[id(module)] = self._now()

    def _after(self, module, _args, _out) -> None:
        start = self._starts.pop(id(module), None)
        if self.enabled and start is not None:
            self.frame_ms += (self._now() - start) * 1000.0

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


class MemoryProbe:
    """Peak memory and growth per frame, so alternating runs can be told apart.

    CUDA: ``max_memory_allocated`` after resetting the peak before each frame, growth from
    ``memory_allocated``. CPU: the process's peak RSS (VmHWM), reset before each frame through
    ``/proc/self/clear_refs`` where Linux allows it; elsewhere ``getrusage``'s ru_maxrss, which
    cannot be reset and so is the process peak so far. Growth compares the memory in use at the
    same point of every frame cycle, first timed frame against last, so that what one run frees
    and the next takes back (or what a dtype conversion hands back to the system) cancels out.
    Both CPU figures count the whole process (weights included).
    """

    def __init__(self, device: torch.device):
        import psutil  # a dependency of accelerate, which diffusers needs here

        self._cuda = device.type == "cuda"
        self._process = psutil.Process()
        self._resettable = not self._cuda and self._reset_hwm()
        self.method = (
            "cuda max_memory_allocated per frame; growth: memory_allocated"
            if self._cuda
            else f"process peak RSS ({'VmHWM reset per frame' if self._resettable else 'so far'}); "
            "growth: RSS"
        )
        self._max_peak = 0.0

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def current_mb(self) -> float:
        if self._cuda:
            return torch.cuda.memory_allocated() / 2**20
        return self._process.memory_info().rss / 2**20

    def begin(self) -> None:
        if self._cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        elif self._resettable:
            self._reset_hwm()

    def end(self) -> tuple[float, float]:
        """(peak during the frame, in use after it) in MiB."""
        if self._cuda:
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() / 2**20
        elif self._resettable:
            peak = _vm_hwm_mb()
        else:
            peak = self.process_peak_mb()
        self._max_peak = max(self._max_peak, peak)
        return peak, self.current_mb()

    def process_peak_mb(self) -> float:
        if self._cuda:
            return torch.cuda.max_memory_allocated() / 2**20
        # Resetting VmHWM also lowers ru_maxrss, hence the maximum over the frames too.
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return max(self._max_peak, rss / 2**20 if sys.platform == "darwin" else rss / 2**10)


def _vm_hwm_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 2**10


@contextlib.contextmanager
def one_torch_thread():
    """Torch on one thread for a while (as a replica with one CPU runs it): the ablation of
    threads, and the same arithmetic, bit for bit, as such a replica."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)

"""Which OpenVINO device and precision a model compiles for, and the one-line answers to a
bad choice (OpenVINO missing, a device it does not see, bf16 where the device lacks it)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from desktop_app.core.errors import InvalidRequestError

BACKENDS = ("pytorch", "openvino")
PRECISIONS = ("fp32", "bf16", "int8-weights", "int8")
MISSING = (
    "the OpenVINO backend needs the openvino extra: "
    'pip install "live-canvas[openvino]" (installs openvino and nncf)'
)
# The compute precision each choice asks of the device. The 8-bit ones leave it to OpenVINO
# (f32 where the CPU has no bf16 units, bf16 on AMX CPUs, f16 on Intel GPUs): only the
# layers NNCF did not quantize run in it.
_HINTS = {"fp32": "f32", "bf16": "bf16", "int8-weights": None, "int8": None}
# What each precision costs, as measured (docs/PERFORMANCE.md, "OpenVINO backend"); shown by
# ``live-canvas models list`` with PRECISION_NOTES_MEASURED_ON.
PRECISION_NOTES = {
    "fp32": "float32: the PyTorch engine's picture to ~1e-6; 0.72x its frame time",
    "bf16": "bf16 arithmetic, on CPUs with bf16 units (AMX, AVX512-BF16) only; not measured",
    "int8-weights": "8-bit weights, float arithmetic: a 4x smaller cache, picture within 1 "
    "level of fp32 (58 dB); 0.80x",
    "int8": "8-bit weights and activations, calibrated once on the app's own frames: picture "
    "within 6 levels of fp32 (50 dB), preview decoder 39-43 dB on photographs; 0.51-0.57x",
}
PRECISION_NOTES_MEASURED_ON = (
    "quality against fp32 and time against the PyTorch engine's frame: random SD 1.5 weights "
    "at 512x512 on a 2-core AVX2 CPU"
)
# What int8 quantizes: "all" (convolutions, linear layers, attention) or "convolutions". 8-bit
# matrix products pay only where the CPU multiplies 8-bit numbers in one instruction (VNNI,
# AMX): profiled on an AVX2-only CPU, OpenVINO's int8 linear layers ran slower than its f32
# ones, and quantized attention lost its fused kernel (docs/PERFORMANCE.md, "Where the time
# goes"), so there int8 keeps those in f32 and quantizes the convolutions alone.
INT8_SCOPES = ("all", "convolutions")
INT8_SCOPE_VARIABLE = "LIVE_CANVAS_OPENVINO_INT8"  # overrides the choice (benchmarks)
_INT8_MATMUL_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def import_openvino() -> ModuleType:
    """``openvino``, or the one line that says how to install it."""
    try:
        import openvino
    except ImportError:
        raise InvalidRequestError(MISSING) from None
    if not hasattr(openvino, "Core"):  # a folder named openvino on the path, not the package
        raise InvalidRequestError(MISSING)
    return openvino


def import_nncf() -> ModuleType:
    try:
        import nncf
    except ImportError:
        raise InvalidRequestError(MISSING) from None
    return nncf


def is_openvino_device(device: str | None) -> bool:
    return device is not None and device.lower().split(":", 1)[0] == "openvino"


@dataclass(frozen=True)
class Target:
    device: str  # OpenVINO's name: CPU, GPU, GPU.1, NPU
    precision: str  # one of PRECISIONS
    profile: bool = False  # keep per-operation times (benchmarks/openvino_profile.py)
    int8_scope: str = "all"  # one of INT8_SCOPES; only int8 reads it

    @property
    def config(self) -> dict[str, str]:
        """compile_model's properties: latency (one frame at a time), the precision's hint."""
        config = {"PERFORMANCE_HINT": "LATENCY"}
        hint = _HINTS[self.precision]
        if hint is not None:
            config["INFERENCE_PRECISION_HINT"] = hint
        if self.profile:
            config["PERF_COUNT"] = "YES"
        return config


def cpu_multiplies_int8_in_one_instruction(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool | None:
    """True where this CPU has VNNI or AMX; None where the kernel does not say (not Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(set(line.split(":", 1)[1].split()) & set(_INT8_MATMUL_FLAGS))
    return None


def int8_scope_for(device: str) -> str:
    """What int8 quantizes on ``device``: everything, except on CPUs known to lack VNNI/AMX."""
    given = os.environ.get(INT8_SCOPE_VARIABLE, "").strip().lower()
    if given:
        if given not in INT8_SCOPES:
            raise InvalidRequestError(
                f"{INT8_SCOPE_VARIABLE} must be one of {', '.join(INT8_SCOPES)}, got {given!r}"
            )
        return given
    if device == "CPU" and cpu_multiplies_int8_in_one_instruction() is False:
        return "convolutions"
    return "all"


def resolve_target(device: str | None, precision: str | None) -> Target:
    """``--device`` (None, ``openvino`` or ``openvino:NAME``; ``cpu`` means OpenVINO's CPU)
    and ``--precision`` (default fp32) → a Target this machine's OpenVINO can compile for."""
    precision = precision or "fp32"
    if precision not in PRECISIONS:
        raise InvalidRequestError(
            f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"
        )
    name = "CPU"
    if device and is_openvino_device(device):
        name = device.split(":", 1)[1] if ":" in device else "CPU"
    elif device and device.lower() != "cpu":
        raise InvalidRequestError(
            f"--backend openvino runs on OpenVINO devices: use --device openvino:CPU, "
            f"openvino:GPU or openvino:NPU, not {device!r}"
        )
    ov = import_openvino()
    core = ov.Core()
    seen = list(core.available_devices)
    name = name.upper()
    if name not in seen:
        raise InvalidRequestError(
            f"OpenVINO does not see a device {name!r} here; it sees: "
            f"{', '.join(f'openvino:{d}' for d in seen) or 'none'}"
        )
    if precision == "bf16":
        capabilities = core.get_property(name, "OPTIMIZATION_CAPABILITIES")
        if "BF16" not in capabilities:
            raise InvalidRequestError(
                f"this {name} does not compute bf16 (it offers {', '.join(capabilities)}): "
                "use --precision fp32, int8-weights or int8"
            )
    scope = int8_scope_for(name) if precision == "int8" else "all"
    return Target(name, precision, int8_scope=scope)

"""Which OpenVINO device and precision a model compiles for, and the one-line answers to a
bad choice (OpenVINO missing, a device it does not see, bf16 where the device lacks it)."""

from __future__ import annotations

from dataclasses import dataclass
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

    @property
    def config(self) -> dict[str, str]:
        """compile_model's properties: latency (one frame at a time), the precision's hint."""
        config = {"PERFORMANCE_HINT": "LATENCY"}
        hint = _HINTS[self.precision]
        if hint is not None:
            config["INFERENCE_PRECISION_HINT"] = hint
        return config


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
    return Target(name, precision)

"""What ``--precision int8`` quantizes on this CPU: everything where the CPU multiplies 8-bit
numbers in one instruction (VNNI, AMX), the convolutions alone where it is known not to (the
profile in docs/PERFORMANCE.md), everything where the kernel does not say; an override for
benchmarks, checked. Plain Python: needs no openvino."""

from __future__ import annotations

import pytest

from desktop_app.core.errors import InvalidRequestError
from desktop_app.engine.openvino import target as target_module
from desktop_app.engine.openvino.target import (
    INT8_SCOPE_VARIABLE,
    cpu_multiplies_int8_in_one_instruction,
    int8_scope_for,
)

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
WITH_VNNI = "processor\t: 0\nflags\t\t: fpu avx avx2 avx512f avx512_vnni\n"
WITH_AMX = "processor\t: 0\nflags\t\t: fpu avx2 amx_tile amx_int8 amx_bf16\n"


@pytest.mark.parametrize(
    ("cpuinfo", "expected"), [(AVX2_ONLY, False), (WITH_VNNI, True), (WITH_AMX, True)]
)
def test_the_cpu_flags_say_whether_int8_products_pay(tmp_path, cpuinfo, expected):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert cpu_multiplies_int8_in_one_instruction(path) is expected


def test_no_cpuinfo_says_nothing(tmp_path):
    assert cpu_multiplies_int8_in_one_instruction(tmp_path / "missing") is None
    (tmp_path / "no-flags").write_text("processor\t: 0\n")
    assert cpu_multiplies_int8_in_one_instruction(tmp_path / "no-flags") is None


def test_the_scope_follows_the_cpu(monkeypatch):
    monkeypatch.delenv(INT8_SCOPE_VARIABLE, raising=False)
    for known, expected in ((False, "convolutions"), (True, "all"), (None, "all")):
        monkeypatch.setattr(
            target_module, "cpu_multiplies_int8_in_one_instruction", lambda known=known: known
        )
        assert int8_scope_for("CPU") == expected
        assert int8_scope_for("GPU") == "all"  # an Intel GPU's int8 is not a CPU's


def test_the_override_is_checked(monkeypatch):
    monkeypatch.setenv(INT8_SCOPE_VARIABLE, "All")
    assert int8_scope_for("CPU") == "all"
    monkeypatch.setenv(INT8_SCOPE_VARIABLE, "everything")
    with pytest.raises(InvalidRequestError) as raised:
        int8_scope_for("CPU")
    message = str(raised.value)
    assert "\n" not in message and INT8_SCOPE_VARIABLE in message and "convolutions" in message

"""The layering is a rule, not a hope: ui → app → engine, no Qt in the engine, no torch in
the UI (import-linter contracts in pyproject.toml), and the code stays ruff-clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    if found.exists():
        return str(found)
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return path


def test_import_contracts_hold():
    proc = subprocess.run([tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


def test_ruff_is_clean():
    proc = subprocess.run(
        [tool("ruff"), "check", "desktop_app", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_importing_the_ui_does_not_import_torch():
    code = (
        "import sys, desktop_app.ui.main_window, desktop_app.app.controller; "
        "sys.exit('torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, "importing the window pulled in torch: " + proc.stderr


def test_the_bench_runs_without_qt_or_line_art_packages():
    """``benchmarks/gpu.sh`` runs on GPU machines whose Python has torch and diffusers but not
    PySide6 or controlnet-aux: the bench command must not need them."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'controlnet_aux'):\n"
        "            raise ImportError(f'{name} is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from desktop_app.cli import main\n"
        "sys.exit(main(['bench', '--model', 'tiny', '--size', '128', '--frames', '1',\n"
        "               '--warmup', '0', '--no-baseline', '--json']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"engine_ms"' in proc.stdout

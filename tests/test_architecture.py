"""The layering is a rule, not a hope: ui → app → engine, no Qt in the engine, no torch in
the UI (import-linter contracts in pyproject.toml), and the code stays ruff-clean."""

from __future__ import annotations

import ast
import re
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
    declared = (ROOT / "pyproject.toml").read_text().count("[[tool.importlinter.contracts]]")
    proc = subprocess.run([tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert declared >= 5 and f"{declared} kept, 0 broken" in proc.stdout


# Import names whose distribution is named otherwise.
DISTRIBUTION_OF = {
    "PIL": "pillow",
    "cv2": "opencv-python-headless",
    "PySide6": "PySide6-Essentials",
    "shiboken6": "PySide6-Essentials",  # Qt for Python's binding runtime, installed with it
    "skimage": "scikit-image",
    "yaml": "pyyaml",
}


def declared_dependencies(list_name: str = "dependencies") -> set[str]:
    """The distributions named in one of pyproject's lists: ``dependencies`` or an extra."""
    text = (ROOT / "pyproject.toml").read_text()
    block = re.split(rf"^{list_name} = \[", text, maxsplit=1, flags=re.MULTILINE)[1]
    block = block.split("]", 1)[0]
    names = re.findall(r'^\s*"([A-Za-z0-9_.-]+)', block, re.MULTILINE)
    return {name.lower().replace("_", "-") for name in names}


def imported_top_level_modules(*folders: str) -> dict[str, str]:
    """Every module imported under ``folders`` (at any depth, lazily or not) -> one file."""
    found: dict[str, str] = {}
    paths = [
        path
        for folder in folders
        for path in ([ROOT / folder] if folder.endswith(".py") else (ROOT / folder).rglob("*.py"))
    ]
    # The tests' own helpers (doubles, fake_hub, ...), wherever under tests/ they live.
    local = {
        path.stem for folder in ("tests", "benchmarks") for path in (ROOT / folder).rglob("*.py")
    }
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in local:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def undeclared(imported: dict[str, str], declared: set[str]) -> dict[str, str]:
    return {
        module: where
        for module, where in imported.items()
        if module not in sys.stdlib_module_names
        and module != "desktop_app"
        and DISTRIBUTION_OF.get(module, module).lower().replace("_", "-") not in declared
    }


def serve_extra() -> set[str]:
    """What the serve extra brings: Ray Serve and what it serves HTTP with."""
    return declared_dependencies("serve") | {"starlette"}


def test_every_third_party_import_is_a_declared_dependency():
    serving = ("desktop_app/serving",)
    openvino = ("desktop_app/engine/openvino",)
    everything_else = {
        module: where
        for module, where in imported_top_level_modules("desktop_app").items()
        if not where.startswith(serving + openvino)
    }
    missing = undeclared(
        imported_top_level_modules(*openvino),
        declared_dependencies() | declared_dependencies("openvino"),
    )
    assert not missing, f"the OpenVINO backend imports what its extra does not declare: {missing}"
    missing = undeclared(everything_else, declared_dependencies())
    assert not missing, f"imported but not in pyproject's dependencies: {missing}"
    missing = undeclared(
        imported_top_level_modules(*serving), declared_dependencies() | serve_extra()
    )
    assert not missing, (
        f"the server imports what neither it nor the serve extra declares: {missing}"
    )


# What runs only with the serve extra installed: the serving tests and Serve's floor bench.
NEEDS_SERVE = ("tests/serving", "benchmarks/serve_floor.py")


def test_every_import_of_the_tests_and_benchmarks_is_declared():
    declared = declared_dependencies() | declared_dependencies("test")
    declared |= declared_dependencies("openvino")  # tests/openvino_backend skip without it
    missing = undeclared(imported_top_level_modules("tests", "benchmarks"), declared)
    missing = {m: w for m, w in missing.items() if not w.startswith(NEEDS_SERVE)}
    assert not missing, f"imported but not in pyproject's dependencies or test extra: {missing}"
    missing = undeclared(imported_top_level_modules(*NEEDS_SERVE), declared | serve_extra())
    assert not missing, f"the serve tests and benches import what no extra declares: {missing}"


def test_only_the_server_needs_ray():
    """The app, its commands and the remote client start without the serve extra."""
    proc = run_without(
        ("ray", "starlette"),
        "import desktop_app.ui.main_window, desktop_app.remote.engine, desktop_app.bench.remote\n"
        "from desktop_app.cli import main\n"
        "sys.exit(main(['serve', '--model', 'tiny']))\n",
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        "live-canvas: error: serving needs Ray Serve, an optional part: pip install "
        "'live-canvas[serve]' (in a checkout: pip install -e '.[serve]')"
    ]


def run_without(packages: tuple[str, ...], code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where importing any of ``packages`` fails, as on a
    machine that does not have them."""
    block = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {packages!r}:\n"
        "            raise ImportError(f'{name} is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", block + code], cwd=ROOT, capture_output=True, text=True
    )


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
    proc = run_without(
        ("PySide6", "controlnet_aux"),
        "from desktop_app.cli import main\n"
        "sys.exit(main(['bench', '--model', 'tiny', '--size', '128', '--frames', '1',\n"
        "               '--warmup', '0', '--no-baseline', '--json']))\n",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"engine_ms"' in proc.stdout

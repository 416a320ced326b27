"""The frozen bundle, built from this checkout by packaging/build.sh and run as a user runs
it: the executable, never Python. Minutes to build, so the plain test run skips it; .ci/run
runs it after the main suite:

    LIVE_CANVAS_PACKAGING=1 python -m pytest -m packaging tests/packaging

LIVE_CANVAS_BUNDLE=dist/live-canvas tests an existing build instead of building one.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import desktop_app
from desktop_app.core.resources import APP_ID

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.timeout(3600),  # the first test builds the bundle
    pytest.mark.skipif(
        not os.environ.get("LIVE_CANVAS_PACKAGING"),
        reason="builds the bundle (minutes): LIVE_CANVAS_PACKAGING=1 pytest -m packaging "
        "tests/packaging",
    ),
]


@pytest.fixture(scope="module")
def bundle() -> Path:
    given = os.environ.get("LIVE_CANVAS_BUNDLE")
    if given:
        return Path(given).resolve()
    started = time.monotonic()
    # As a user builds it: build.sh makes its own environment from the lock, whatever runs
    # these tests.
    subprocess.run([str(ROOT / "packaging" / "build.sh"), "--no-archive"], check=True, cwd=ROOT)
    print(f"bundle built in {time.monotonic() - started:.0f} s")
    return ROOT / "dist" / "live-canvas"


@pytest.fixture
def user_env(tmp_path) -> dict[str, str]:
    """A user with an empty home and Hugging Face cache, offline, and no Python around:
    whatever the bundle needs, it must carry."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "LD_", "QT_", "HF_"))}
    home = tmp_path / "home"
    home.mkdir()
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local" / "share"), HF_HOME=str(home / "hf"),
               HF_HUB_OFFLINE="1", QT_QPA_PLATFORM="offscreen",
               PATH="/usr/bin:/bin")
    return env


def run(bundle: Path, env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([str(bundle / "live-canvas"), *args], env=env, cwd=env["HOME"],
                          capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


def sketch_png(path: Path) -> Path:
    page = np.full((256, 256, 3), 255, np.uint8)
    page[60:200, 120:136] = 0
    page[120:136, 60:200] = 0
    Image.fromarray(page).save(path)
    return path


def test_version(bundle, user_env):
    done = run(bundle, user_env, "--version")
    assert done.returncode == 0, done.stderr
    log = Path(user_env["XDG_DATA_HOME"]) / "LiveCanvas" / "Live Canvas" / "live-canvas.log"
    assert done.stdout == f"live-canvas {desktop_app.__version__}\nlog: {log}\n"


def test_models_list(bundle, user_env):
    done = run(bundle, user_env, "models", "list")
    assert done.returncode == 0, done.stderr
    for preset in ("sdxl-turbo", "sdxs", "tiny"):
        assert preset in done.stdout


def test_render_with_the_built_in_tiny_model_writes_its_parameters(bundle, user_env, tmp_path):
    out = tmp_path / "out.png"
    done = run(bundle, user_env, "render", str(sketch_png(tmp_path / "sketch.png")),
               "--model", "tiny", "--prompt", "a lighthouse at dusk", "--seed", "7",
               "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    with Image.open(out) as picture:
        assert "a lighthouse at dusk" in picture.text["parameters"]
        assert "Seed: 7" in picture.text["parameters"]


def test_render_loads_a_saved_model_folder(bundle, user_env, tmp_path, tiny_folder):
    # Through from_pretrained, as a downloaded model loads: diffusers' and transformers'
    # lazily imported classes and their package metadata must all be in the bundle.
    out = tmp_path / "out.png"
    done = run(bundle, user_env, "render", str(sketch_png(tmp_path / "sketch.png")),
               "--model", str(tiny_folder), "--prompt", "a fox", "--size", "256",
               "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    with Image.open(out) as picture:
        assert "a fox" in picture.text["parameters"]


def test_render_with_a_lora_style_fuses_it_frozen(bundle, user_env, tmp_path):
    # PEFT (diffusers' LoRA loading) and its metadata must be in the bundle; the style's name
    # is found in the styles folder, as a user's would be.
    from lora_factory import lora_matrices, save_peft_lora

    from desktop_app.engine.builders import build_tiny

    styles = tmp_path / "styles"
    styles.mkdir()
    save_peft_lora(lora_matrices(build_tiny(), seed=2), styles / "ink.safetensors")
    env = {**user_env, "LIVE_CANVAS_STYLES_DIR": str(styles)}
    out = tmp_path / "inked.png"
    done = run(bundle, env, "render", str(sketch_png(tmp_path / "sketch.png")), "--model",
               "tiny", "--prompt", "a fox", "--lora", "ink:0.8", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    with Image.open(out) as picture:
        assert "a fox <lora:ink:0.8>" in picture.text["parameters"]
        assert 'Lora hashes: "ink: ' in picture.text["parameters"]


def test_the_window_opens_and_quits_by_itself(bundle, user_env):
    done = run(bundle, user_env, "--model", "tiny", "--quit-after", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert Path(user_env["XDG_DATA_HOME"]).exists()  # the autosave went to the user's data
    assert list(Path(user_env["XDG_DATA_HOME"]).rglob("live-canvas.log"))  # and the log


def test_the_window_renders_a_frame_with_the_tiny_model(bundle, user_env):
    done = run(bundle, user_env, "--model", "tiny", "--quit-after-first-frame")
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_missing_sketch_is_one_line_and_exit_1(bundle, user_env, tmp_path):
    done = run(bundle, user_env, "render", str(tmp_path / "missing.png"), "--model", "tiny",
               "--prompt", "x", "--out", str(tmp_path / "out.png"))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("live-canvas: error:") and "missing.png" in done.stderr
    assert not (tmp_path / "out.png").exists()


def test_what_the_bundle_leaves_out_says_so_in_one_line(bundle, user_env):
    serve = run(bundle, user_env, "serve", "--model", "tiny")
    assert serve.returncode == 1 and serve.stderr.count("\n") == 1, serve.stderr
    assert "pip install" in serve.stderr
    compiled = run(bundle, user_env, "bench", "--model", "tiny", "--compile", "--frames", "1")
    assert compiled.returncode != 0 and "--compile" in compiled.stderr.splitlines()[-1]


def test_the_bundle_carries_its_resources_and_not_what_it_never_runs(bundle):
    contents = bundle / "_internal"
    assert (contents / "resources" / "theme.qss").is_file()
    assert (contents / "resources" / "icons" / "app.svg").is_file()
    assert list(contents.rglob("libqsvgicon.so"))  # SVG icons show in the toolbar
    # The timelapse's MP4 encoder: PyAV with its FFmpeg libraries (x264 among them).
    assert (contents / "av").is_dir() and list(contents.rglob("libx264*"))
    for left_out in ("triton", "tensorboard", "ray", "pytest"):
        assert not (contents / left_out).exists(), left_out
    assert not list(contents.rglob("libQt6WebEngine*")) and not list(contents.rglob("libQt63D*"))


def test_install_run_and_uninstall_from_the_bundle(bundle, user_env):
    home = Path(user_env["HOME"])
    before = {p for p in home.rglob("*") if not p.is_dir()}
    subprocess.run([str(bundle / "install.sh")], env=user_env, check=True, capture_output=True)
    launcher = home / ".local/share/applications" / f"{APP_ID}.desktop"
    exec_line = next(line for line in launcher.read_text().splitlines()
                     if line.startswith("Exec="))
    installed = exec_line.split('"')[1]
    done = subprocess.run([installed, "--version"], env=user_env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and desktop_app.__version__ in done.stdout
    link = home / ".local/bin/live-canvas"
    assert subprocess.run([str(link), "models", "path"], env=user_env,
                          capture_output=True, timeout=120).returncode == 0
    subprocess.run([str(home / ".local/opt/live-canvas/uninstall.sh")], env=user_env,
                   check=True, capture_output=True)
    assert {p for p in home.rglob("*") if not p.is_dir()} == before

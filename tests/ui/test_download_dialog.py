"""The "not downloaded yet" dialog and its place in the window, against the fake Hub.

Sockets are refused in every test: the fake Hub (tests/fake_hub.py) answers under
huggingface_hub's HTTP client, so reaching for the real network fails instead of hanging.
"""

from __future__ import annotations

import pytest
import shiboken6
from fake_hub import SD_TURBO, UNET16, sd_turbo_files
from huggingface_hub import try_to_load_from_cache

from desktop_app.app.controller import cpu_note
from desktop_app.app.download_worker import check_cache, format_size
from desktop_app.core.types import EngineInfo
from desktop_app.ui.download_dialog import BAR_STEPS, ModelDownloadDialog

pytestmark = pytest.mark.usefixtures("sockets")

SCALE = 8  # the UNet is 32 body chunks; ``gate`` holds it after 5
PARTS = (SD_TURBO, "thibaud/controlnet-sd21-scribble-diffusers", "madebyollin/taesd")


@pytest.fixture
def hub_repos():
    return sd_turbo_files(scale=SCALE)


@pytest.fixture
def gate_chunk():
    return 5


def sd_turbo_window(make_window):
    """A window whose chosen preset, sd-turbo, is not in the (empty) cache."""
    window = make_window(start=False)
    window.controller.gate.variant = "fp16"  # what the loader would pick, without importing torch
    loads = []
    worker, load = window.controller.worker, window.controller.worker.load_model
    worker.load_model = lambda model, device=None: (loads.append(model), load(model, device))
    window.state.preset = "sd-turbo"
    return window, loads


def open_dialog(qtbot, window) -> ModelDownloadDialog:
    qtbot.waitUntil(lambda: window.download_dialog is not None, timeout=5000)
    dialog = window.download_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    return dialog


def test_dialog_lists_the_parts_and_the_size(qtbot, hub):
    dialog = ModelDownloadDialog(check_cache("sd-turbo", "fp16"))
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.isModal()
    qtbot.waitUntil(lambda: "Total" in dialog.size_label.text(), timeout=5000)
    for repo in PARTS:
        assert repo in dialog.parts_label.text()
    total = dialog.plan.total_bytes
    assert f"Total {format_size(total)}" in dialog.size_label.text()
    assert format_size(sum(f.size for f in dialog.plan.parts[0].files)) in dialog.parts_label.text()
    assert dialog.download_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert "Licence: SD-Turbo: Stability AI Non-Commercial" in dialog.licence_label.text()
    assert dialog.shutdown()


def test_window_downloads_then_loads_the_model(qtbot, make_window, hub, cache, sockets):
    window, loads = sd_turbo_window(make_window)
    dialog = open_dialog(qtbot, window)
    assert loads == []  # nothing loads a model that is not there
    assert "not downloaded" in window.load_banner.text()
    assert window.canvas.isEnabled()  # still a sketch tool
    qtbot.waitUntil(lambda: "Total" in dialog.size_label.text(), timeout=5000)

    values, files = [], []
    dialog.progress.valueChanged.connect(values.append)
    show = dialog._on_progress
    dialog._on_progress = lambda p: (files.append(dialog.file_label.text()), show(p))
    with qtbot.waitSignal(window.controller.gate.engine_loaded, timeout=20000):
        dialog.download_button.click()
    assert loads == ["sd-turbo"]
    assert values == sorted(values) and values[-1] == BAR_STEPS and len(set(values)) > 2
    assert any(UNET16 in text for text in files[1:] + [dialog.file_label.text()])
    assert not dialog.isVisible() and not window.load_banner.isVisible()
    assert check_cache("sd-turbo", "fp16").complete
    assert sockets == []


def test_cancel_stops_and_leaves_no_corrupt_file(qtbot, make_window, hub, cache, gate):
    reached, release = gate
    window, loads = sd_turbo_window(make_window)
    dialog = open_dialog(qtbot, window)
    dialog.download_button.click()
    assert reached.wait(10)
    qtbot.waitUntil(lambda: UNET16 in dialog.file_label.text(), timeout=5000)
    assert dialog.cancel_button.isEnabled() and not dialog.download_button.isEnabled()
    with qtbot.waitSignal(dialog.download_worker.cancelled, timeout=10000):
        dialog.cancel_button.click()
        release.set()
    assert "Cancelled" in dialog.file_label.text()
    assert dialog.download_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert dialog.progress.value() < BAR_STEPS
    assert loads == []
    # The UNet was cut off: it is not in the cache, only a clean prefix waits for resuming.
    assert try_to_load_from_cache(SD_TURBO, UNET16, cache_dir=cache) is None
    unet = sd_turbo_files(scale=SCALE)[SD_TURBO][UNET16]
    (partial,) = cache.rglob("*.incomplete")
    assert unet.startswith(partial.read_bytes()) and partial.stat().st_size < len(unet)
    for repo, files in sd_turbo_files(scale=SCALE).items():
        for path, data in files.items():
            found = try_to_load_from_cache(repo, path, cache_dir=cache)
            if isinstance(found, str):
                assert open(found, "rb").read() == data, f"{repo}/{path} is corrupt"


def test_offline_shows_the_missing_files_and_the_command(qtbot, make_window, fake, sockets):
    window, loads = sd_turbo_window(make_window)
    dialog = open_dialog(qtbot, window)
    assert not dialog.download_button.isEnabled()
    assert dialog.details.isVisible()
    details = dialog.details.toPlainText()
    assert f"{SD_TURBO}/{UNET16}" in details
    assert "madebyollin/taesd/config.json" in details
    assert "live-canvas models download sd-turbo" in details
    assert "live-canvas models download sd-turbo" in dialog.size_label.text()
    assert "HF_HUB_OFFLINE" in dialog.size_label.text()
    dialog.start_download()  # even called directly, nothing connects
    qtbot.wait(200)
    assert dialog.download_worker is None
    assert fake.requests == [] and sockets == [] and loads == []


def test_unreachable_hub_names_the_missing_files(qtbot, hub):
    hub.unreachable = True
    dialog = ModelDownloadDialog(check_cache("sd-turbo", "fp16"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(dialog.details.isVisible, timeout=5000)
    assert f"{SD_TURBO}/{UNET16}" in dialog.details.toPlainText()
    assert "live-canvas models download sd-turbo" in dialog.size_label.text()
    assert dialog.shutdown()


def test_the_banner_reopens_a_closed_dialog(qtbot, make_window, fake):
    window, _loads = sd_turbo_window(make_window)
    dialog = open_dialog(qtbot, window)
    dialog.close()
    assert not dialog.isVisible()
    window.load_banner.buttons[0].click()
    assert window.download_dialog is dialog and dialog.isVisible()


def test_choosing_another_missing_preset_replaces_the_dialog(qtbot, make_window, hub):
    window, _loads = sd_turbo_window(make_window)
    first = open_dialog(qtbot, window)
    window.state.preset = "sdxl-turbo"
    qtbot.waitUntil(lambda: window.download_dialog is not first, timeout=5000)
    assert window.download_dialog.preset == "sdxl-turbo" and window.download_dialog.isVisible()
    # The old one goes away once its Hub request has ended.
    qtbot.waitUntil(lambda: not shiboken6.isValid(first), timeout=5000)
    assert window.download_dialog.shutdown()


def test_smoke_run_exits_instead_of_waiting_for_a_download(qtbot, make_window, fake):
    window, _loads = sd_turbo_window(lambda **kw: make_window(quit_after_first_frame=True, **kw))
    qtbot.waitUntil(lambda: window.exit_code == 1, timeout=5000)
    assert window.download_dialog is None
    assert "not downloaded" in window.load_banner.text()


def test_cpu_engine_says_what_speed_to_expect(qtbot, make_window):
    window = make_window()  # the fake engine reports device "cpu"
    qtbot.waitUntil(window.cpu_banner.isVisible, timeout=5000)
    assert "Running on the CPU" in window.cpu_banner.text()
    assert "CUDA GPU" in window.device_label.toolTip()
    gpu = EngineInfo("sdxl-turbo", "sdxl", "cuda", "float16", "madebyollin/taesdxl")
    assert cpu_note(gpu) is None
    cpu = EngineInfo("sdxl-turbo", "sdxl", "cpu", "float32", "madebyollin/taesdxl")
    assert "float32" in cpu_note(cpu) and "seconds a frame" in cpu_note(cpu)
    window.model_status.engine_loaded(gpu)
    assert not window.cpu_banner.isVisible()


def test_a_missing_model_also_offers_the_tiny_model(qtbot, make_window, fake):
    window, loads = sd_turbo_window(make_window)
    dialog = open_dialog(qtbot, window)
    labels = [b.text() for b in window.load_banner.buttons]
    assert labels == ["Download…", "Use the tiny test model"]
    window.load_banner.buttons[1].click()
    assert window.state.preset == "tiny"
    qtbot.waitUntil(lambda: "tiny" in loads, timeout=5000)
    assert dialog.shutdown()

"""The first start on a computer without a GPU: the fast preset is offered beside the default,
each with its download size (from the fake Hub) and licence, and the choice is remembered."""

from __future__ import annotations

import pytest
from fake_hub import sdxl_turbo_files, sdxs_files
from PySide6.QtCore import QSettings

from desktop_app.models.hub_files import format_size, plan_download

pytestmark = pytest.mark.usefixtures("sockets")


@pytest.fixture
def hub_repos():
    return {**sdxs_files(), **sdxl_turbo_files()}


@pytest.fixture
def on_cpu(monkeypatch):
    """Frames would run on the CPU, whatever this machine has."""
    from desktop_app.engine import device

    monkeypatch.setattr(device, "runs_on_cpu", lambda _device=None: True)


def first_start(make_window):
    """A window that nobody has chosen a model for, loading the default preset."""
    window = make_window(start=False)
    window.controller.gate.variant = "full"
    window.controller.gate.preset_chosen = False
    window.controller.load_model("sdxl-turbo")
    return window


def test_without_a_gpu_the_first_start_offers_sdxs_with_sizes(qtbot, make_window, hub, on_cpu):
    window = first_start(make_window)
    qtbot.waitUntil(lambda: window.choice_dialog is not None, timeout=5000)
    dialog = window.choice_dialog
    assert dialog.isVisible() and window.download_dialog is None
    assert dialog.buttons["sdxs"].text() == "sdxs: fast on this computer"
    best = "sdxl-turbo: best quality, needs a GPU or patience"
    assert dialog.buttons["sdxl-turbo"].text() == best
    for name in ("sdxs", "sdxl-turbo"):
        total = format_size(plan_download(name, "full").total_bytes)
        qtbot.waitUntil(lambda n=name: "Download:" in dialog.size_labels[n].text(), timeout=5000)
        assert total in dialog.size_labels[name].text()
    assert "OpenRAIL++" in dialog.licence_labels["sdxs"].text()
    assert "Non-Commercial" in dialog.licence_labels["sdxl-turbo"].text()
    assert window.canvas.isEnabled()  # still a sketch tool behind it
    assert dialog.shutdown()


def test_choosing_sdxs_is_remembered_and_asks_for_its_download(
    qtbot, make_window, hub, on_cpu, qsettings
):
    window = first_start(make_window)
    qtbot.waitUntil(lambda: window.choice_dialog is not None, timeout=5000)
    window.choice_dialog.buttons["sdxs"].click()
    assert window.state.preset == "sdxs"
    # Written at once: a crash right after the choice still remembers it.
    assert QSettings(qsettings.fileName(), QSettings.Format.IniFormat).value("preset") == "sdxs"
    qtbot.waitUntil(lambda: window.download_dialog is not None, timeout=5000)
    assert window.download_dialog.preset == "sdxs"
    assert not window.choice_dialog.isVisible()
    assert window.choice_dialog.shutdown()


def test_decide_later_leaves_the_usual_banner_and_is_not_asked_again(
    qtbot, make_window, hub, on_cpu
):
    window = first_start(make_window)
    qtbot.waitUntil(lambda: window.choice_dialog is not None, timeout=5000)
    dialog = window.choice_dialog
    dialog.reject()
    assert "not downloaded" in window.load_banner.text()
    window.controller.load_model("sdxl-turbo")
    qtbot.waitUntil(lambda: window.download_dialog is not None, timeout=5000)
    assert window.choice_dialog is dialog  # no second chooser
    assert dialog.shutdown()


def test_with_a_gpu_or_a_chosen_model_the_download_is_offered_directly(
    qtbot, make_window, hub, monkeypatch
):
    from desktop_app.engine import device

    monkeypatch.setattr(device, "runs_on_cpu", lambda _device=None: False)
    window = first_start(make_window)
    qtbot.waitUntil(lambda: window.download_dialog is not None, timeout=5000)
    assert window.choice_dialog is None and window.download_dialog.preset == "sdxl-turbo"


def test_a_first_start_counts_as_not_chosen_until_a_model_is_named(qtbot, tmp_path):
    from doubles import fake_loader

    from desktop_app.ui.startup import create_window

    def gate_of(settings, model=None):
        window = create_window(
            model=model, loader=fake_loader(None, None), qsettings=settings,
            data_dir=tmp_path / "data", restore=False,
        )
        qtbot.addWidget(window)
        return window.controller.gate

    empty = QSettings(str(tmp_path / "empty.ini"), QSettings.Format.IniFormat)
    assert gate_of(empty).preset_chosen is False
    assert gate_of(empty, model="sd-turbo").preset_chosen is True
    empty.setValue("preset", "sdxl-turbo")
    assert gate_of(empty).preset_chosen is True

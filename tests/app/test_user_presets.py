"""User presets: stored in QSettings, listed in the model chooser, resolved by the loader."""

from __future__ import annotations

import pytest
from doubles import FakeEngine
from PySide6.QtCore import QSettings

from desktop_app.app.state import LiveState
from desktop_app.app.user_presets import (
    UserPreset,
    UserPresetStore,
    make_user_preset,
    read_user_presets,
    resolving_loader,
    write_user_presets,
)
from desktop_app.core.errors import ModelLoadError


@pytest.fixture
def ini(tmp_path):
    return str(tmp_path / "settings.ini")


def settings(path: str) -> QSettings:
    return QSettings(path, QSettings.Format.IniFormat)


class RecordingLoader:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, model, device=None, progress=None, **extras):
        self.calls.append((model, extras))
        return FakeEngine(model=model)


def test_round_trip_through_qsettings(ini, tmp_path):
    folder = tmp_path / "my model"
    folder.mkdir()
    mine = UserPreset("ink", str(folder), "xinsir/controlnet-scribble-sdxl-1.0")
    plain = UserPreset("plain: with / odd = chars", "sd-turbo")
    write_user_presets([mine, plain], settings(ini))
    assert read_user_presets(settings(ini)) == [mine, plain]  # a fresh QSettings reads the file

    store = UserPresetStore(settings(ini))
    store.add(UserPreset("third", "stabilityai/sdxl-turbo", "", "madebyollin/taesdxl"))
    store.remove("plain: with / odd = chars")
    assert [p.name for p in UserPresetStore(settings(ini)).all()] == ["ink", "third"]


def test_damaged_settings_do_not_stop_the_app(ini):
    s = settings(ini)
    s.setValue("user_presets", "{not json")
    assert read_user_presets(s) == []


def test_make_user_preset_checks_the_fields(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"x")
    made = make_user_preset(" mine ", str(weights), "", "madebyollin/taesd")
    assert made == UserPreset("mine", str(weights.resolve()), "", "madebyollin/taesd")
    assert made.key == "user:mine"
    with pytest.raises(ModelLoadError, match="name"):
        make_user_preset("", "sd-turbo")
    with pytest.raises(ModelLoadError, match="exists already"):
        make_user_preset("sd-turbo", "sd-turbo")
    with pytest.raises(ModelLoadError, match="exists already"):
        make_user_preset("mine", "sd-turbo", taken=["mine"])
    with pytest.raises(ModelLoadError, match="base model not found"):
        make_user_preset("x", str(tmp_path / "missing.safetensors"))
    with pytest.raises(ModelLoadError, match="ControlNet not found"):
        make_user_preset("x", "sd-turbo", "./no/such/folder")


def test_loader_resolves_user_presets_and_passes_others_through():
    store = UserPresetStore()
    store.add(UserPreset("ink", "owner/base", "owner/cn", ""))
    inner = RecordingLoader()
    load = resolving_loader(inner, store)
    assert load("user:ink", device="cpu").info.model == "owner/base"
    load("sd-turbo")
    assert inner.calls == [("owner/base", {"controlnet": "owner/cn"}), ("sd-turbo", {})]
    with pytest.raises(ModelLoadError, match="no saved preset named 'gone'"):
        load("user:gone")


def test_user_presets_appear_in_the_chooser(qtbot):
    from desktop_app.ui.controls import ControlPanel

    state = LiveState()
    state.preset = "user:ink"
    panel = ControlPanel(state, user_presets=[UserPreset("ink", "owner/base")])
    qtbot.addWidget(panel)
    names = [panel.preset.itemText(i) for i in range(panel.preset.count())]
    assert names[:5] == ["sdxl-turbo", "sdxs", "sd-turbo", "tiny", "ink"]
    assert names[-2:] == ["Local folder…", "New preset…"]
    assert panel.preset.currentData() == "user:ink"

    panel.set_user_presets([UserPreset("ink", "owner/base"), UserPreset("wash", "sd-turbo")])
    datas = [panel.preset.itemData(i) for i in range(panel.preset.count())]
    assert datas.count("user:ink") == 1 and "user:wash" in datas

    requested = []
    panel.new_preset_requested.connect(lambda: requested.append(True))
    panel.preset.activated.emit(panel.preset.findData("__new_user_preset__"))
    assert requested and state.preset == "user:ink"
    panel.preset.activated.emit(panel.preset.findData("user:wash"))
    assert state.preset == "user:wash"


def test_saving_a_preset_in_the_window_selects_and_loads_it(qtbot, tmp_path, ini):
    from desktop_app.ui.startup import create_window

    loader = RecordingLoader()
    window = create_window(
        model="tiny", loader=loader, qsettings=settings(ini), data_dir=tmp_path / "data"
    )
    qtbot.addWidget(window)
    window.show()
    dialog = window.new_user_preset()
    dialog.name.setText("ink")
    dialog.base.setText("owner/base")
    dialog.decoder.setText("owner/tae")
    with qtbot.waitSignal(window.controller.gate.engine_loaded, timeout=5000):
        dialog.accept()
    assert window.state.preset == "user:ink"
    assert window.controls.preset.currentText() == "ink"
    assert loader.calls[-1] == ("owner/base", {"preview_decoder": "owner/tae"})
    assert read_user_presets(settings(ini)) == [UserPreset("ink", "owner/base", "", "owner/tae")]

    # A second window (the next start) lists it again.
    again = create_window(loader=loader, qsettings=settings(ini), data_dir=tmp_path / "data")
    qtbot.addWidget(again)
    assert again.controls.preset.findData("user:ink") >= 0


def test_the_dialog_explains_what_is_wrong(qtbot):
    from desktop_app.ui.user_preset_dialog import UserPresetDialog

    dialog = UserPresetDialog(taken=["ink"])
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.name.setText("ink")
    dialog.base.setText("sd-turbo")
    dialog.accept()
    assert dialog.isVisible() and dialog.preset() is None
    assert "exists already" in dialog.error.text()

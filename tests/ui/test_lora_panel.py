"""The LoRA styles row in the window: add from the styles folder, change a weight, remove,
and a style the model cannot use said in the banner with the list put back."""

from __future__ import annotations

from doubles import FakeEngine
from drawing import first_frame


def shown_styles(window) -> list[tuple[str, float]]:
    panel = window.controls.loras
    return [(label.text(), spin.value()) for label, spin, _ in panel.entries]


def test_styles_are_added_weighted_and_removed_in_the_window(qtbot, make_window, tmp_path,
                                                             monkeypatch):
    styles = tmp_path / "styles"
    styles.mkdir()
    for name in ("ink", "watercolour"):
        (styles / f"{name}.safetensors").write_bytes(b"x")
    monkeypatch.setenv("LIVE_CANVAS_STYLES_DIR", str(styles))
    engine = FakeEngine()
    window = make_window(engine)
    first_frame(qtbot, window)
    panel = window.controls.loras
    panel._fill_menu()
    names = [a.text() for a in panel.menu.actions() if a.text()]
    assert names[:2] == ["ink", "watercolour"] and "Open styles folder" in names
    with qtbot.waitSignal(window.controller.frames.result_shown, timeout=5000):
        panel.menu.actions()[1].trigger()  # watercolour
    assert shown_styles(window) == [("watercolour", 1.0)]
    assert engine.loras == ((str(styles / "watercolour.safetensors"), 1.0),)
    spin = panel.entries[0][1]
    with qtbot.waitSignal(window.controller.frames.result_shown, timeout=5000):
        spin.setValue(-0.5)
    assert window.state.loras == ((str(styles / "watercolour.safetensors"), -0.5),)
    assert engine.loras == window.state.loras
    with qtbot.waitSignal(window.controller.frames.result_shown, timeout=5000):
        panel.entries[0][2].click()
    assert shown_styles(window) == [] and engine.loras == ()


def test_a_style_that_does_not_fit_shows_a_banner_and_leaves_the_list_as_it_was(
    qtbot, make_window
):
    engine = FakeEngine()
    engine.bad_loras = {"/styles/sd15-only.safetensors"}
    window = make_window(engine)
    first_frame(qtbot, window)
    frames = []
    window.controller.frames.result_shown.connect(frames.append)
    window.controls.loras.add("/styles/sd15-only.safetensors")
    qtbot.waitUntil(lambda: window.error_banner.isVisible(), timeout=5000)
    assert "sd15-only.safetensors does not fit" in window.error_banner.text()
    qtbot.waitUntil(lambda: shown_styles(window) == [] and len(frames) > 0, timeout=5000)
    assert window.state.loras == ()
    # The pictures go on (without the style) and the message stays until dismissed.
    assert window.error_banner.isVisible()


def test_the_styles_folder_opens(qtbot, make_window, tmp_path, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    opened = []
    monkeypatch.setenv("LIVE_CANVAS_STYLES_DIR", str(tmp_path / "new-styles"))
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    window = make_window(FakeEngine())
    folder = window.controls.loras.open_folder()
    assert folder.is_dir() and opened[0].toLocalFile() == str(folder)


def test_the_add_button_stays_through_every_change(qtbot, make_window):
    window = make_window(FakeEngine(), start=False)
    panel = window.controls.loras
    for loras in ((("/a.safetensors", 1.0),), (), (("/b.safetensors", 0.5),),
                  (("/b.safetensors", 0.5), ("/c.safetensors", 1.0))):
        window.state.loras = loras
        qtbot.wait(10)  # the removed entries' deferred deletion runs
        assert panel.row.indexOf(panel.add_button) == 3 * len(loras)
        assert panel.add_button.isVisibleTo(window)
        assert shown_styles(window) == [(n.split("/")[-1][:-12], w) for n, w in loras]

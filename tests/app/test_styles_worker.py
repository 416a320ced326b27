"""LoRA styles through the worker: fused before the frame that asks for them, and a style
that cannot be used reverts the setting (the list shows what the pictures really have)."""

from __future__ import annotations

import numpy as np
from doubles import FakeEngine
from test_worker import loaded


def test_a_frame_with_styles_is_rendered_with_them(qtbot, rig):
    engine = FakeEngine()
    controller = rig(engine)
    loaded(qtbot, controller)
    plain = controller.frames.current.image.copy()
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000) as shown:
        controller.state.loras = (("/styles/ink.safetensors", 1.0),)
    assert engine.loras == (("/styles/ink.safetensors", 1.0),)
    assert not np.array_equal(shown.args[0].image, plain)
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000) as shown:
        controller.state.loras = ()
    np.testing.assert_array_equal(shown.args[0].image, plain)


def test_a_style_that_cannot_be_used_is_said_and_the_setting_reverts(qtbot, rig):
    engine = FakeEngine()
    engine.bad_loras = {"/styles/for-sd15.safetensors"}
    controller = rig(engine)
    loaded(qtbot, controller)
    kept = (("/styles/ink.safetensors", 0.5),)
    with qtbot.waitSignal(controller.frames.result_shown, timeout=5000):
        controller.state.loras = kept
    with qtbot.waitSignal(controller.styles_failed, timeout=5000) as failed:
        controller.state.loras = (*kept, ("/styles/for-sd15.safetensors", 1.0))
    assert "does not fit" in failed.args[0]
    qtbot.waitUntil(lambda: controller.state.loras == kept, timeout=5000)
    assert engine.loras == kept


def test_styles_are_autosaved_with_the_session(qtbot, rig, tmp_path):
    from desktop_app.app.session import SessionKeeper
    from desktop_app.app.state import LiveState

    controller = rig()
    controller.state.loras = (("/styles/ink.safetensors", 0.75),)
    controller.session.save_soon_now()
    controller.session.wait()
    again = LiveState()
    keeper = SessionKeeper(again, tmp_path / "data")
    keeper.restore()
    assert again.loras == (("/styles/ink.safetensors", 0.75),)

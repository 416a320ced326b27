"""Finish in the window: the Finish action (Ctrl+Enter, beside Export), the scales in the
Export menu (×1.5 / ×2 / ×3: the choice finishes at once and is remembered), Esc to cancel,
the progress bar over the picture and the mark on a finished one. The work itself is the
controller's ``finishes`` (app/finisher.py)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QMenu, QWidget

from desktop_app.app.controller import Controller
from desktop_app.core.settings_table import FINISH_SCALES
from desktop_app.core.types import FinishProgress, FinishRequest, FrameResult
from desktop_app.ui.finish_badge import FinishBadge
from desktop_app.ui.finish_bar import FinishBar
from desktop_app.ui.image_view import ImageView
from desktop_app.ui.theme import icon


class FinishActions(QObject):
    def __init__(
        self,
        window: QWidget,
        controller: Controller,
        preview: ImageView,
        say: Callable[[str, bool], None],
    ) -> None:
        """``say(message, is_error)``: the window's banner (an error) or status bar."""
        super().__init__(window)
        self.finisher = controller.finishes
        self.state = controller.state
        self.say = say
        self.finish_action = QAction(icon("finish"), "Finish", window)
        self.finish_action.setShortcuts(
            [QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")]  # Enter: the keypad's
        )
        self.finish_action.setToolTip(
            "Finish: the picture shown, upscaled and refined to full quality (Ctrl+Enter)"
        )
        self.finish_action.triggered.connect(lambda: self.finisher.finish())
        # Esc means "cancel" only while a picture is being finished.
        self.cancel_action = QAction("Cancel finishing", window)
        self.cancel_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.setEnabled(False)
        self.cancel_action.triggered.connect(self.cancel)
        window.addAction(self.finish_action)
        window.addAction(self.cancel_action)
        self.scale_actions = self._scale_actions(window)
        self.state.finish_scale_changed.connect(self._show_scale)
        self._show_scale(self.state.finish_scale)
        self.bar = FinishBar(preview)
        self.bar.cancel_clicked.connect(self.cancel)
        self.badge = FinishBadge(preview)
        f = self.finisher
        f.started.connect(self._on_started)
        f.progressed.connect(self._on_progress)
        f.done.connect(self._on_done)
        f.failed.connect(lambda message: self._ended(message, True))
        f.refused.connect(lambda message: say(message, True))
        f.cancelled.connect(
            lambda: self._ended("Finishing cancelled: the picture is as it was", False)
        )
        controller.frames.result_shown.connect(self.badge.show_for)

    def _scale_actions(self, window: QWidget) -> dict[float, QAction]:
        group = QActionGroup(window)
        actions = {}
        for scale in FINISH_SCALES:
            action = QAction(f"Finish ×{scale:g}", group)
            action.setCheckable(True)
            action.triggered.connect(lambda _checked=False, s=scale: self.finish_at(s))
            actions[scale] = action
        return actions

    def attach_button(self, button: QAbstractButton) -> None:
        """``button`` (the panel's, beside Export) does what the action does, when it can."""
        button.setToolTip(self.finish_action.toolTip())
        button.clicked.connect(self.finish_action.trigger)
        self.finish_action.enabledChanged.connect(button.setEnabled)

    def add_to_menu(self, menu: QMenu) -> None:
        """The scales, in their own section of ``menu`` (the Export menu)."""
        menu.addSection("Finish (Ctrl+Enter)")
        for action in self.scale_actions.values():
            menu.addAction(action)

    def finish_at(self, scale: float) -> None:
        self.state.finish_scale = float(scale)  # remembered: Ctrl+Enter uses it next time
        self.finisher.finish()

    def cancel(self) -> None:
        if self.finisher.running:
            self.finisher.cancel()
            self.bar.cancelling()

    def _show_scale(self, scale: float) -> None:
        for value, action in self.scale_actions.items():
            action.setChecked(value == scale)

    def _on_started(self, request: FinishRequest) -> None:
        self.cancel_action.setEnabled(True)
        self.finish_action.setEnabled(False)
        self.bar.start(request)

    def _on_progress(self, progress: FinishProgress) -> None:
        self.bar.show_progress(progress)

    def _on_done(self, result: FrameResult) -> None:
        self._idle()
        height, width = result.image.shape[:2]
        seconds = result.timings.total_ms / 1000
        self.say(f"Finished: {width}×{height} in {seconds:.1f} s (Ctrl+S exports it)", False)

    def _ended(self, message: str, is_error: bool) -> None:
        self._idle()
        self.say(message, is_error)

    def _idle(self) -> None:
        self.cancel_action.setEnabled(False)
        self.finish_action.setEnabled(True)
        self.bar.hide()


"""The menu beside Record timelapse: export what was recorded (in this run or an earlier
one, crashed or not), or discard it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMenu, QWidget

from desktop_app.app.controller import Controller
from desktop_app.app.timelapse.export import ExportReport
from desktop_app.ui.timelapse_dialog import TimelapseDialog


class TimelapseMenu(QMenu):
    def __init__(
        self, controller: Controller, say: Callable[[str, bool], None], parent: QWidget
    ) -> None:
        super().__init__("Timelapse", parent)
        self.controller = controller
        self.say = say
        self.dialog: TimelapseDialog | None = None
        self.export_action = self.addAction("Export timelapse…")
        self.export_action.triggered.connect(self.open_dialog)
        exporter = controller.timelapse_exports
        exporter.finished.connect(self._on_exported)
        controller.timelapse.notice.connect(lambda message: say(message, True))

    def open_dialog(self) -> TimelapseDialog:
        if self.dialog is None:
            self.dialog = TimelapseDialog(self.controller, self.parentWidget())
        self.dialog.open()
        return self.dialog

    def _on_exported(self, report: ExportReport) -> None:
        seconds = report.duration_ms / 1000
        self.say(f"Timelapse exported to {report.path} ({report.frames} frames, "
                 f"{seconds:.0f} s)", False)
        if report.notices:
            self.say(" ".join(report.notices), True)

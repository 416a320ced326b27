"""Export timelapse…: the format, the layout and the speed (kept as preferences), then where
to save it; the export runs off the UI thread with a progress bar and a Cancel."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.app.controller import Controller
from desktop_app.app.timelapse.export import SPEEDS, TimelapseOptions
from desktop_app.ui.banner import Banner
from desktop_app.ui.bindings import bind_combo

FORMATS = (("mp4", "MP4 video (H.264)", "MP4 video (*.mp4)"),
           ("webp", "Animated WebP", "Animated WebP (*.webp)"))
LAYOUTS = (("side", "Sketch and picture side by side"), ("picture", "The picture only"))


class TimelapseDialog(QDialog):
    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export timelapse")
        self.state = controller.state
        self.recorder = controller.timelapse
        self.exporter = controller.timelapse_exports
        self.folder = controller.exports.folder()
        self.summary = QLabel()
        self.format_box = self._combo([(key, text) for key, text, _ in FORMATS], "timelapse_format")
        self.layout_box = self._combo(LAYOUTS, "timelapse_layout")
        speeds = [(speed, "real time" if speed == 1 else f"{speed}× faster") for speed in SPEEDS]
        self.speed_box = self._combo(speeds, "timelapse_speed")
        self.progress = QProgressBar()
        self.progress.hide()
        self.error = Banner("error")
        self.export_button = QPushButton("Export…")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.ask_path)
        self.discard_button = QPushButton("Discard recording")
        self.discard_button.clicked.connect(self.discard)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self._close_or_cancel)
        self._build()
        self.recorder.progress.connect(self._show_summary)
        self.exporter.progress.connect(self._on_progress)
        self.exporter.finished.connect(self._on_finished)
        self.exporter.failed.connect(self._on_failed)
        self.exporter.cancelled.connect(self._on_idle)
        self._show_summary()

    def _combo(self, items, name: str) -> QComboBox:
        box = QComboBox()
        for value, text in items:
            box.addItem(text, value)
        bind_combo(box, self.state, name)
        return box

    def _build(self) -> None:
        form = QFormLayout()
        form.addRow("Format", self.format_box)
        form.addRow("Layout", self.layout_box)
        form.addRow("Speed", self.speed_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.discard_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.export_button)
        column = QVBoxLayout(self)
        column.addWidget(self.summary)
        column.addLayout(form)
        column.addWidget(self.progress)
        column.addWidget(self.error)
        column.addLayout(buttons)

    def _show_summary(self, *_changed: object) -> None:
        frames, megabytes = self.recorder.frame_count, self.recorder.spool_bytes / 1024**2
        if frames:
            self.summary.setText(f"{frames} frames recorded ({megabytes:.1f} MB).")
        else:
            self.summary.setText("Nothing is recorded yet: turn on Record timelapse and draw.")
        self.discard_button.setEnabled(frames > 0 and not self.exporter.busy)
        self.export_button.setEnabled(frames > 0 and not self.exporter.busy)

    def options(self) -> TimelapseOptions:
        return TimelapseOptions(
            format=self.state.timelapse_format,
            layout=self.state.timelapse_layout,
            speed=float(self.state.timelapse_speed),
        )

    def ask_path(self) -> None:
        key = self.state.timelapse_format
        suffix, name_filter = f".{key}", next(f for k, _, f in FORMATS if k == key)
        # The dialog opens where pictures are exported; a folder not made yet would send it to
        # the working directory instead.
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
        default = self.folder / f"live-canvas-timelapse-{datetime.now():%Y%m%d-%H%M%S}{suffix}"
        chosen, _ = QFileDialog.getSaveFileName(self, "Export timelapse", str(default), name_filter)
        if chosen:
            path = Path(chosen)
            self.export_to(path if path.suffix.lower() == suffix else path.with_suffix(suffix))

    def discard(self) -> None:
        answer = QMessageBox.question(
            self,
            "Discard recording",
            f"Delete the {self.recorder.frame_count} recorded frames? This cannot be undone.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.recorder.discard()

    def export_to(self, path: Path) -> None:
        self.error.hide()
        if not self.exporter.export(path, self.options()):
            return
        self.progress.setValue(0)
        self.progress.show()
        self.close_button.setText("Cancel export")
        self._show_summary()

    def _close_or_cancel(self) -> None:
        if self.exporter.busy:
            self.exporter.cancel()
        else:
            self.reject()

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)

    def _on_finished(self, _report: object) -> None:
        self._on_idle()
        self.accept()

    def _on_failed(self, message: str) -> None:
        self._on_idle()
        self.error.show_message(message)

    def _on_idle(self) -> None:
        self.progress.hide()
        self.close_button.setText("Close")
        self._show_summary()

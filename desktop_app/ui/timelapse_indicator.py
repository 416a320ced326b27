"""The status bar's timelapse label: a red "● REC" with the frame count while recording, a
quiet count when a recording waits to be exported, nothing otherwise."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from desktop_app.app.timelapse.recorder import TimelapseRecorder

_RECORDING_STYLE = "color: #ff5c5c; font-weight: bold;"


class TimelapseIndicator(QLabel):
    def __init__(self, recorder: TimelapseRecorder, bar: QStatusBar) -> None:
        super().__init__()
        self.recorder = recorder
        bar.insertPermanentWidget(0, self)
        recorder.progress.connect(self._show)
        recorder.state.timelapse_recording_changed.connect(self._show)
        self._show()

    def _show(self, *_changed: object) -> None:
        recorder = self.recorder
        frames, megabytes = recorder.frame_count, recorder.spool_bytes / 1024**2
        plural = "" if frames == 1 else "s"
        if recorder.recording:
            self.setText(f"● REC {frames} frame{plural}")
            self.setStyleSheet(_RECORDING_STYLE)
            self.setToolTip(
                f"Recording a timelapse: {frames} frame{plural}, {megabytes:.1f} MB on disk. "
                "Export it from the arrow beside Record timelapse."
            )
        else:
            self.setText(f"timelapse: {frames} frame{plural}")
            self.setStyleSheet("")
            self.setToolTip(f"A timelapse recording ({megabytes:.1f} MB) can be exported.")
        self.setVisible(recorder.recording or frames > 0)

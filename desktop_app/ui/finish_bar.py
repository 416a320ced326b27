"""Finish's progress, floating over the bottom of the picture: the stage and step, a bar,
the time left, and Cancel (Esc does the same).

It floats rather than joining a layout so that nothing moves while it shows (the canvas
stays under the pen: strokes can be drawn while a picture is finished).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from desktop_app.core.types import FinishProgress, FinishRequest

MARGIN = 8  # px from the picture's edges
MAX_WIDTH = 520
_STAGES = {"encode": "Encoding", "refine": "Refining", "decode": "Decoding"}


def progress_text(progress: FinishProgress) -> str:
    """ "Refining · step 2 of 4 · about 3 s left" """
    stage = _STAGES.get(progress.stage, progress.stage.capitalize())
    text = f"{stage} · step {progress.step} of {progress.steps}"
    if progress.left_s is not None:
        text += f" · about {max(1, round(progress.left_s))} s left"
    return text


class FinishBar(QFrame):
    cancel_clicked = Signal()

    def __init__(self, host: QWidget) -> None:
        super().__init__(host)
        self.setObjectName("finishBar")
        self.host = host
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.title = QLabel()
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop finishing; the picture stays as it was (Esc)")
        self.cancel.clicked.connect(self.cancel_clicked)
        layout.addWidget(self.title)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.cancel)
        host.installEventFilter(self)
        self.hide()

    def start(self, request: FinishRequest) -> None:
        side = request.target_size
        self.title.setText(f"Finishing ×{request.scale:g} → {side}×{side}")
        self.label.setText("starting…")
        self.bar.setRange(0, 0)  # busy until the first step is told
        self.cancel.setEnabled(True)
        self._place()
        self.show()
        self.raise_()

    def show_progress(self, progress: FinishProgress) -> None:
        self.bar.setRange(0, max(1, progress.steps))
        self.bar.setValue(progress.step)
        self.label.setText(progress_text(progress))

    def cancelling(self) -> None:
        self.label.setText("cancelling…")
        self.cancel.setEnabled(False)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.host and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        width = max(0, min(MAX_WIDTH, self.host.width() - 2 * MARGIN))
        height = self.sizeHint().height()
        x = (self.host.width() - width) // 2
        self.setGeometry(x, self.host.height() - height - MARGIN, width, height)

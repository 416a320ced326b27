"""The first start on a computer without a GPU: which model to download.

The default preset (SDXL-Turbo) takes seconds a frame on a laptop CPU, so before offering its
download the window asks once: the fast preset beside the best-quality one, each with its
download size (asked of the Hub in PlanWorker threads) and its licence. The choice becomes the
model preference, so it is asked only once.
"""

from __future__ import annotations

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_app.app.download_worker import PlanWorker, format_size
from desktop_app.models.presets import DEFAULT_PRESET, FAST_ON_CPU, PRESETS

BLURBS = {
    FAST_ON_CPU: "fast on this computer",
    DEFAULT_PRESET: "best quality, needs a GPU or patience",
}


class ModelChoiceDialog(QDialog):
    chosen = Signal(str)  # the preset picked

    def __init__(self, variant: str, offline: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModal(False)
        self.setWindowTitle("Choose a model")
        self.setMinimumWidth(560)
        self.workers: list[PlanWorker] = []
        self.size_labels: dict[str, QLabel] = {}
        self.licence_labels: dict[str, QLabel] = {}
        self.buttons: dict[str, QPushButton] = {}
        layout = QVBoxLayout(self)
        intro = QLabel(
            "This computer has no GPU that Live Canvas can use, so pictures are drawn on "
            "the CPU. Which model should it download? You can keep sketching meanwhile, and "
            "change the model later in the Model list."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        for name in (FAST_ON_CPU, DEFAULT_PRESET):
            self._add_choice(layout, name, variant, offline)
        later = QPushButton("Decide later")
        later.clicked.connect(self.reject)
        layout.addWidget(later)
        self.buttons[FAST_ON_CPU].setDefault(True)

    def _add_choice(self, layout: QVBoxLayout, name: str, variant: str, offline: bool) -> None:
        button = QPushButton(f"{name}: {BLURBS[name]}")
        button.clicked.connect(lambda: self._choose(name))
        self.buttons[name] = button
        layout.addWidget(button)
        size = QLabel()
        size.setWordWrap(True)
        self.size_labels[name] = size
        licence = QLabel(f"Licence: {PRESETS[name].licence}")
        licence.setWordWrap(True)
        self.licence_labels[name] = licence
        layout.addWidget(size)
        layout.addWidget(licence)
        if offline:
            size.setText("Download size unknown: HF_HUB_OFFLINE is set on this machine.")
            return
        size.setText("Asking the Hugging Face Hub for the download size…")
        worker = PlanWorker(name, variant, self)
        worker.planned.connect(
            lambda plan: size.setText(
                f"Download: {format_size(plan.total_bytes)} ({variant} weights)"
            )
        )
        worker.plan_failed.connect(
            lambda message, _missing: size.setText(f"Download size unknown: {message}")
        )
        self.workers.append(worker)
        worker.start()

    def _choose(self, name: str) -> None:
        self.chosen.emit(name)
        self.accept()

    def threads(self) -> list[QThread]:
        return list(self.workers)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Wait for the Hub requests (they cannot be cut short); True when they have ended."""
        return all(w.wait(timeout_ms) for w in self.workers if w.isRunning())

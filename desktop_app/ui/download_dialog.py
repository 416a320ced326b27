"""The non-modal "this model is not downloaded yet" dialog: parts, size, progress, Cancel.

The window stays a working sketch tool behind it. Sizes come from the Hub in a PlanWorker
thread; with HF_HUB_OFFLINE set nothing is asked, and the dialog says which files are
missing and the command that fetches them on a connected machine.
"""

from __future__ import annotations

from PySide6.QtCore import QThread, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.app.download_worker import (
    CacheCheck,
    DownloadWorker,
    PlanWorker,
    fetch_command,
    format_size,
)
from desktop_app.models.presets import PRESETS

BAR_STEPS = 1000  # QProgressBar is 32-bit; a 7 GB preset in bytes would overflow it


class ModelDownloadDialog(QDialog):
    downloaded = Signal(object)  # DownloadResult, once every file is in the cache

    def __init__(self, check: CacheCheck, parent: QWidget | None = None, cache_dir=None) -> None:
        super().__init__(parent)
        self.check = check
        self.preset = check.preset
        self.cache_dir = cache_dir
        self.plan = None
        self.plan_worker: PlanWorker | None = None
        self.download_worker: DownloadWorker | None = None
        self.setModal(False)
        self.setWindowTitle(f"Download {self.preset}")
        self.setMinimumSize(640, 300)

        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                f"{self.preset} is not in the model cache yet. It needs these parts "
                f"({check.variant} weights); you can keep sketching meanwhile:"
            )
        )
        self.parts_label = QLabel()
        self.parts_label.setWordWrap(True)
        layout.addWidget(self.parts_label)
        self.licence_label = QLabel(f"Licence: {PRESETS[self.preset].licence}")
        self.licence_label.setWordWrap(True)
        layout.addWidget(self.licence_label)
        self.size_label = QLabel()
        self.size_label.setWordWrap(True)
        layout.addWidget(self.size_label)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMinimumHeight(140)
        self.details.hide()
        layout.addWidget(self.details)
        self.progress = QProgressBar()
        self.progress.setRange(0, BAR_STEPS)
        self.progress.setValue(0)
        self.progress.setFormat("")
        layout.addWidget(self.progress)
        self.file_label = QLabel()
        self.file_label.setWordWrap(True)
        layout.addWidget(self.file_label)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.download_button = QPushButton("Download")
        self.download_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        for button in (self.download_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.close_button.clicked.connect(self.close)

        self._show_parts()
        if check.offline:
            self.download_button.setEnabled(False)
            self._show_missing(
                "HF_HUB_OFFLINE is set, so nothing is downloaded on this machine.",
                check.missing,
            )
        else:
            self._ask_for_sizes()

    @classmethod
    def reuse(
        cls, dialog: ModelDownloadDialog | None, check: CacheCheck, parent: QWidget | None
    ) -> ModelDownloadDialog:
        """``dialog`` when it is for ``check`` (or busy downloading), else a new one."""
        if dialog is not None and (dialog.check == check or dialog.is_downloading()):
            return dialog
        if dialog is not None:
            dialog.dispose()
        return cls(check, parent)

    # --- what is needed ----------------------------------------------------------------------
    def _show_parts(self) -> None:
        sizes = {}
        if self.plan is not None:
            sizes = {p.role: sum(f.size for f in p.files) for p in self.plan.parts}
        lines = []
        for part in self.check.parts:
            state = "downloaded" if part.present else f"{len(part.missing)} file(s) missing"
            size = f", {format_size(sizes[part.role])}" if part.role in sizes else ""
            lines.append(f"• {part.role}: {part.source or part.repo} ({state}{size})")
        self.parts_label.setText("\n".join(lines))

    def _ask_for_sizes(self) -> None:
        self.size_label.setText("Asking the Hugging Face Hub for the download size…")
        self.plan_worker = PlanWorker(self.preset, self.check.variant, self)
        self.plan_worker.planned.connect(self._on_planned)
        self.plan_worker.plan_failed.connect(self._on_plan_failed)
        self.plan_worker.start()

    def _on_planned(self, plan) -> None:
        self.plan = plan
        self._show_parts()
        on_disk = sum(part.size_on_disk for part in self.check.parts)
        left = max(plan.total_bytes - on_disk, 0)
        self.size_label.setText(
            f"Total {format_size(plan.total_bytes)} in {len(plan.files)} files "
            f"({format_size(left)} still to download)."
        )

    def _on_plan_failed(self, message: str, missing) -> None:
        if missing:
            self._show_missing(f"The download size is unknown: {message}", missing)
        else:
            self.size_label.setText(f"The download size is unknown: {message}")

    def _show_missing(self, why: str, missing) -> None:
        command = fetch_command(self.preset)
        how = "" if command in why else f" On a connected machine run: {command}"
        self.size_label.setText(
            f"{why}{how} — then copy its model cache folder (live-canvas models path) here."
        )
        self.details.setPlainText(
            "Missing files:\n"
            + "\n".join(f"  {path}" for path in missing)
            + f"\n\nOn a connected machine run:\n  {command}\n"
        )
        self.details.show()
        self.adjustSize()  # the message arrives after the dialog was laid out

    # --- the download ------------------------------------------------------------------------
    def is_downloading(self) -> bool:
        return self.download_worker is not None and self.download_worker.isRunning()

    def start_download(self) -> None:
        if self.is_downloading() or self.check.offline:
            return
        worker = DownloadWorker(self.preset, self.check.variant, self.cache_dir, self)
        worker.progress_changed.connect(self._on_progress)
        worker.finished_ok.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        self.download_worker = worker
        self.download_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.file_label.setText("Starting the download…")
        worker.start()

    def cancel_download(self) -> None:
        if self.is_downloading():
            self.download_worker.cancel()
            self.cancel_button.setEnabled(False)
            self.file_label.setText("Cancelling…")

    def _on_progress(self, p) -> None:
        self.progress.setValue(p.done * BAR_STEPS // p.total if p.total else BAR_STEPS)
        self.progress.setFormat(f"{format_size(p.done)} of {format_size(p.total)}")
        self.file_label.setText(f"File {p.index + 1} of {p.count}: {p.repo}/{p.path}")

    def _on_finished(self, result) -> None:
        self.progress.setValue(BAR_STEPS)
        self.cancel_button.setEnabled(False)
        self.file_label.setText(f"{self.preset} is downloaded; loading it…")
        self.downloaded.emit(result)
        self.accept()

    def _on_failed(self, message: str) -> None:
        self._stopped(f"The download stopped: {message}", "Try again")

    def _on_cancelled(self) -> None:
        self._stopped(
            "Cancelled. Finished files are kept; Download continues where it stopped.",
            "Download",
        )

    def _stopped(self, text: str, button: str) -> None:
        self.file_label.setText(text)
        self.download_button.setText(button)
        self.download_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    # --- closing -----------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel any download and wait for the threads; True when they have ended."""
        self.cancel_download()
        ended = True
        for worker in (self.download_worker, self.plan_worker):
            if worker is not None and worker.isRunning():
                ended = worker.wait(timeout_ms) and ended
        return ended

    def threads(self) -> list[QThread]:
        return [w for w in (self.download_worker, self.plan_worker) if w is not None]

    def dispose(self) -> None:
        """Close for good; deleted once its threads end (a Hub request cannot be cut short)."""
        self.cancel_download()
        self.hide()
        for worker in self.threads():  # connected before the check, so no ending is missed
            worker.finished.connect(self._delete_when_idle)
        if not any(w.isRunning() for w in self.threads()):
            self.deleteLater()

    def _delete_when_idle(self) -> None:
        if not any(w.isRunning() for w in self.threads()):
            self.deleteLater()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        # Closing means "not now": a running download stops, finished files stay.
        self.cancel_download()
        super().closeEvent(event)

    def reject(self) -> None:
        self.cancel_download()
        super().reject()

"""What the window offers when the chosen model is not downloaded: the download dialog, or, on
a first start without a GPU, the choice of model before it. The window's banner and status
bar stay the window's; this owns the two dialogs and their threads."""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread
from PySide6.QtWidgets import QWidget

from desktop_app.app.controller import Controller
from desktop_app.app.settings import PreferencesKeeper
from desktop_app.ui.download_dialog import ModelDownloadDialog
from desktop_app.ui.model_choice_dialog import ModelChoiceDialog


class DownloadOffer(QObject):
    def __init__(
        self, controller: Controller, prefs: PreferencesKeeper | None, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.prefs = prefs
        self.window = parent
        self.download_dialog: ModelDownloadDialog | None = None
        self.choice_dialog: ModelChoiceDialog | None = None

    def offer(self, check) -> None:
        """The choice of model (asked once, and only where the gate says so), else the
        download dialog of ``check``'s preset."""
        gate = self.controller.gate
        if gate.offers_choice(check):
            gate.preset_chosen = True  # asked once; "Decide later" is an answer too
            self.choice_dialog = ModelChoiceDialog(check.variant, check.offline, self.window)
            self.choice_dialog.chosen.connect(self._on_model_chosen)
            self.choice_dialog.show()
            return
        self.show_download_dialog(check)

    def _on_model_chosen(self, name: str) -> None:
        state = self.controller.state
        if name == state.preset:
            self.controller.load_model(name)
        else:
            state.preset = name  # loads it (or asks for its download)
        if self.prefs is not None:
            self.prefs.save()  # remembered at once, not only at a clean close

    def show_download_dialog(self, check) -> ModelDownloadDialog:
        dialog = ModelDownloadDialog.reuse(self.download_dialog, check, self.window)
        if dialog is not self.download_dialog:
            self.download_dialog = dialog
            dialog.downloaded.connect(self._on_downloaded)
        dialog.show()
        dialog.raise_()
        return dialog

    def _on_downloaded(self, result) -> None:
        if self.controller.state.preset == result.preset:  # the user may have moved on
            self.window.load_banner.hide()
            self.controller.load_model(result.preset, check_cache=False)

    def stop(self) -> None:
        """At the window's close: a running download ends between chunks; files stay whole."""
        if self.download_dialog is not None:
            self.download_dialog.cancel_download()
            self.download_dialog.hide()

    def threads(self) -> list[QThread]:
        dialogs = (self.download_dialog, self.choice_dialog)
        return [t for d in dialogs if d is not None for t in d.threads()]

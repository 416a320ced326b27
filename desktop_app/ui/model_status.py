"""What the window says about the model: the banners for a failed load, a model not yet
downloaded, random weights and a CPU, with the way out each offers (this computer's model
after a server, the tiny model, a download), and the status bar's labels."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QStatusBar

from desktop_app.app.controller import Controller, cpu_note
from desktop_app.core.types import EngineInfo
from desktop_app.ui.banner import Banner
from desktop_app.ui.status_labels import StatusLabels

Action = tuple[str, Callable[[], None]]


class ModelStatus(QObject):
    def __init__(
        self, controller: Controller, status_bar: QStatusBar, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.state = controller.state
        self.status_bar = status_bar
        self.labels = StatusLabels(status_bar)
        self.load_banner = Banner("error")
        self.noise_banner = Banner("warning", closable=False)
        self.cpu_banner = Banner("info")

    def engine_loaded(self, info: EngineInfo) -> None:
        self.load_banner.hide()
        note = None if info.server else cpu_note(info)
        self.labels.show_engine(info, note)
        if note:
            self.cpu_banner.show_message(note)
            self.status_bar.showMessage(note, 15000)
        else:
            self.cpu_banner.hide()
        if info.is_noise:
            self.noise_banner.show_message(
                f"{info.model} has random weights: the picture is noise, not your prompt. "
                "Choose sdxl-turbo or sd-turbo for real pictures."
            )
        else:
            self.noise_banner.hide()

    def engine_failed(self, message: str) -> None:
        self.labels.show_no_model("model: none")
        self.noise_banner.hide()
        self.cpu_banner.hide()
        if self.controller.server.trouble is None:  # else the server banner says it, retrying
            self.load_banner.show_message(
                f"The model did not load: {message}. You can keep sketching.", *self.way_out()
            )

    def not_downloaded(self, preset: str, download: Callable[[], None]) -> None:
        self.labels.show_no_model("model: not downloaded")
        self.load_banner.show_message(
            f"{preset} is not downloaded yet. You can keep sketching.",
            ("Download…", download),
            *self.way_out(),
        )

    def way_out(self) -> tuple[Action, ...]:
        """When a model cannot be had: this computer's own model after a server, else the
        built-in tiny model (noise, but live)."""
        if self.controller.server.active:
            return (("Use a local model", self.controller.server.use_local),)
        if self.state.preset == "tiny":
            return ()
        return (("Use the tiny test model", lambda: setattr(self.state, "preset", "tiny")),)

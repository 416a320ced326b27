"""The status bar's permanent labels: where frames render (a device here, or a server), the
model, the last frame's latency and the frame rate, and, for a server's frames, the replica
with the round trip split into network and server time."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from desktop_app.core.types import EngineInfo, FrameResult


class StatusLabels:
    def __init__(self, bar: QStatusBar) -> None:
        self.device = QLabel("device: –")
        self.model = QLabel("model: loading")
        self.origin = QLabel()
        self.size = QLabel()
        self.latency = QLabel("– ms")
        self.fps = QLabel("– fps")
        for label in (self.device, self.model, self.origin, self.size, self.latency, self.fps):
            bar.addPermanentWidget(label)
        self.origin.hide()

    def show_engine(self, info: EngineInfo, note: str | None) -> None:
        if info.server:
            self.device.setText(f"server: {info.server} ({info.device})")
        else:
            self.device.setText(f"device: {info.device}")
        self.device.setToolTip(note or "")
        self.model.setText(f"model: {info.model}")
        self.model.setToolTip(info.describe())
        if not info.server:
            self.origin.hide()

    def show_no_model(self, model_text: str) -> None:
        self.model.setText(model_text)
        self.device.setText("device: –")
        self.origin.hide()

    def show_stats(self, latency_ms: float, fps: float) -> None:
        self.latency.setText(f"{latency_ms:.0f} ms")
        self.fps.setText(f"{fps:.1f} fps" if fps else "– fps")

    def show_origin(self, result: FrameResult) -> None:
        remote = result.remote
        if remote is None:
            self.origin.hide()
            return
        server = remote.server
        self.origin.setText(
            f"replica {server.replica[:8]} · network {remote.network_ms:.0f} ms · "
            f"server {server.handler_ms:.0f} ms"
        )
        self.origin.setToolTip(
            f"Round trip {remote.round_trip_ms:.0f} ms: server {server.handler_ms:.0f} ms "
            f"(waiting {server.queue_ms:.0f}, model {result.timings.total_ms:.0f}, "
            f"sketch in {server.decode_ms:.1f}, picture out {server.encode_ms:.1f}), network "
            f"and proxy {remote.network_ms:.0f} ms. Here: sketch {remote.encode_ms:.1f} ms, "
            f"picture {remote.decode_ms:.1f} ms. Sent {remote.bytes_up / 1024:.1f} KB, "
            f"received {remote.bytes_down / 1024:.1f} KB."
        )
        self.origin.show()

    def show_size(self, shown: int, full: int) -> None:
        """The size of the picture on screen: smaller while drawing on a slow device."""
        if shown < full:
            self.size.setText(f"{shown} px while drawing")
            self.size.setToolTip(
                f"Frames take long here, so while you draw they are {shown}x{shown}; the "
                f"{full}x{full} picture follows when the stroke ends"
            )
        else:
            self.size.setText(f"{shown} px")
            self.size.setToolTip("")

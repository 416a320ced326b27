"""Drawing against a server that may be slow, go away and come back.

When frames (or the connection itself) fail because the server cannot be reached, this says
so and tries again by itself, waiting longer each time (0.5 s up to 15 s): a frame again if
the server's engine was connected, else the connection. The first picture that arrives
clears the trouble. A frame that takes long without failing gets a gentler notice. The
drawing never waits on any of it: frames go out and come back on the render worker, and
``use_local`` goes back to the model this computer ran last.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from desktop_app.app.frame_pacer import FramePacer, single_shot
from desktop_app.app.model_gate import ModelGate
from desktop_app.app.state import LiveState
from desktop_app.app.worker import RenderWorker
from desktop_app.models.presets import DEFAULT_PRESET
from desktop_app.remote.address import describe_server, is_server_model

BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
SLOW_AFTER_MS = 4000  # no picture this long after a request: say we are waiting


class ServerLink(QObject):
    # What the window shows: "lost" (with the reason, retrying), "slow" (still waiting),
    # "ok" (pictures come again); the text is the whole message.
    changed = Signal(str, str)

    def __init__(
        self,
        state: LiveState,
        worker: RenderWorker,
        gate: ModelGate,
        frames: FramePacer,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state, self.gate, self.frames = state, gate, frames
        self.trouble: str | None = None  # what is wrong now, while retrying
        self.failures = 0  # in a row, for the backoff
        self._slow_shown = False
        self._newest_request = 0
        self._retry = single_shot(self, 0, self.retry_now)
        self._slow = single_shot(self, SLOW_AFTER_MS, self._on_slow)
        worker.unavailable.connect(self._on_unavailable)
        worker.skipped.connect(self._on_skipped)
        gate.engine_loaded.connect(lambda _info: self._on_answer(picture=False))
        gate.engine_failed.connect(lambda _message: self._slow.stop())
        frames.frame_requested.connect(self._on_requested)
        frames.result_shown.connect(lambda _result: self._on_answer(picture=True))
        frames.render_failed.connect(lambda _message: self._slow.stop())
        state.preset_changed.connect(self._on_preset_changed)
        if not self.active:
            state.local_preset = state.preset

    @property
    def active(self) -> bool:
        """Frames come from a server."""
        return is_server_model(self.state.preset)

    @property
    def where(self) -> str:
        return describe_server(self.state.preset)

    def retry_now(self) -> None:
        self._retry.stop()
        if not self.active:
            return
        if self.gate.engine_info is None:
            self.gate.load(check_cache=False)  # the connection never came up: dial again
        else:
            self.frames.request_frame(force=True)

    def use_local(self) -> None:
        """Back to this computer's model (the last one it ran, else the default)."""
        self.state.preset = self.state.local_preset or DEFAULT_PRESET  # clears the trouble

    def _on_unavailable(self, message: str) -> None:
        if not self.active:
            return
        self._slow.stop()
        self.trouble = message
        if self._retry.isActive():
            return  # a stroke's frame failed while a retry waits: that retry still comes first
        delay = BACKOFF_S[min(self.failures, len(BACKOFF_S) - 1)]
        self.failures += 1
        self._retry.start(round(delay * 1000))
        self.changed.emit(
            "lost",
            f"No pictures from the server: {message}. Trying again in {delay:g} s; "
            "you can keep drawing.",
        )

    def _on_requested(self, request_id: int) -> None:
        self._newest_request = request_id
        if self.active and not self._slow.isActive() and self.trouble is None:
            self._slow.start()

    def _on_skipped(self, request_id: int) -> None:
        # The worker did not send it (its picture is on screen): no picture is coming, unless
        # a newer request went out meanwhile.
        if request_id == self._newest_request:
            self._slow.stop()

    def _on_slow(self) -> None:
        if self.active and self.trouble is None:
            self._slow_shown = True
            self.changed.emit(
                "slow",
                f"Waiting for the server at {self.where}: no picture for "
                f"{SLOW_AFTER_MS // 1000} s (it may be busy, or the link slow). "
                "Keep drawing; the picture follows.",
            )

    def _on_answer(self, picture: bool) -> None:
        if not picture and self.trouble is not None and self.state.live:
            return  # connected again; the picture that follows clears the trouble
        self._slow.stop()
        if self.active and (self.trouble is not None or self._slow_shown):
            self.changed.emit("ok", f"Pictures come from {self.where} again.")
        self._reset()

    def _on_preset_changed(self, preset: str) -> None:
        if not is_server_model(preset):
            self.state.local_preset = preset
        if self.trouble is not None or self._slow_shown:
            self.changed.emit("ok", "")
        self._reset()

    def _reset(self) -> None:
        self._retry.stop()
        self._slow.stop()
        self.trouble = None
        self.failures = 0
        self._slow_shown = False

"""Which model is loaded, and whether frames can be rendered: the load, the cache check that
comes before a preset's load (a preset not yet downloaded asks for a download instead), and
the news of both for the status bar and the window."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from desktop_app.app import download_worker
from desktop_app.app.jobs import CacheCheckJob
from desktop_app.app.state import LiveState
from desktop_app.app.worker import RenderWorker
from desktop_app.core.types import EngineInfo
from desktop_app.models.presets import DEFAULT_PRESET
from desktop_app.remote.address import describe_server, is_server_model


class ModelGate(QObject):
    status_changed = Signal(str)
    engine_loaded = Signal(object)  # EngineInfo
    engine_failed = Signal(str)  # why the model did not load
    download_needed = Signal(object)  # CacheCheck: the chosen preset is not fully downloaded

    def __init__(
        self,
        state: LiveState,
        worker: RenderWorker,
        device: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.worker = worker
        self.device = device
        self.variant: str | None = None  # weights to look for; None: what the loader picks
        # False until the user has picked a model (on the command line, in a past session or
        # in the window): until then a CPU-only machine is offered the fast preset first.
        self.preset_chosen = True
        self.engine_info: EngineInfo | None = None
        self.load_error: str | None = None
        self._requested = False
        self._cache_job: CacheCheckJob | None = None
        worker.model_loaded.connect(self._on_model_loaded)
        worker.load_failed.connect(self._on_load_failed)

    @property
    def can_render(self) -> bool:
        """A load was asked for and has not failed (frames queue until it is done)."""
        return self._requested and self.load_error is None

    def load(self, model: str | None = None, check_cache: bool = True) -> bool:
        """Load ``model`` (default: the state's preset); True when the load itself was asked
        for, False when a cache check runs first."""
        model = model or self.state.preset
        self.engine_info = None
        self.load_error = None
        self._cache_job = None
        if check_cache and download_worker.downloadable(model):
            self._requested = False
            self.status_changed.emit(f"Checking {model} in the model cache…")
            job = self._cache_job = CacheCheckJob(model, self.variant, self.device)
            self.worker.model_chosen()  # the load or frame in progress is not waited for
            self.worker.submit_job(
                job,
                on_done=lambda check: self._on_cache_checked(job, check),
                on_failed=lambda _message: self._on_cache_check_failed(job),
            )
            return False
        self._requested = True
        if is_server_model(model):
            self.status_changed.emit(f"Connecting to {describe_server(model)}…")
            options = {
                "token_file": self.state.server_token_file,
                "ca_file": self.state.server_ca_file,
            }
            self.worker.load_model(model, None, **options)
            return True
        self.status_changed.emit(f"Loading {model}…")
        self.worker.load_model(model, self.device)
        return True

    def offers_choice(self, check) -> bool:
        """Should the window ask which model to download, rather than offer the default?"""
        return not self.preset_chosen and check.on_cpu and check.preset == DEFAULT_PRESET

    def _on_model_loaded(self, info: EngineInfo) -> None:
        self.engine_info = info
        self.load_error = None
        self.status_changed.emit(f"Ready: {info.describe()}")
        self.engine_loaded.emit(info)

    def _on_load_failed(self, message: str) -> None:
        self.load_error = message
        self.status_changed.emit("No model loaded")
        self.engine_failed.emit(message)

    def _on_cache_checked(self, job: CacheCheckJob, check) -> None:
        if job is not self._cache_job:
            return  # another model was chosen meanwhile
        if check.complete:
            self.load(check.preset, check_cache=False)
            return
        self.load_error = f"{check.preset} is not downloaded"
        self.status_changed.emit(f"{check.preset} is not downloaded yet")
        self.download_needed.emit(check)

    def _on_cache_check_failed(self, job: CacheCheckJob) -> None:
        if job is self._cache_job:
            self.load(job.model, check_cache=False)  # the loader explains what is wrong

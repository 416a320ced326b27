"""Background threads for the model downloader: the Hub's file sizes, and the download itself.

``desktop_app.models.downloads`` does the work and knows nothing about Qt; these threads only
carry its progress and outcome back to the UI as signals. Cancelling sets a
``threading.Event`` that ``download_preset`` checks between chunks, so a cancelled download
leaves finished files and a clean partial file, never a complete-looking corrupt one.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, Signal

from desktop_app.core.errors import user_message
from desktop_app.core.log import log_error
from desktop_app.models.hub_files import (
    DownloadCancelled,
    DownloadProgress,
    HubUnreachableError,
    PartStatus,
    format_size,
    missing_files,
)
from desktop_app.models.presets import PRESETS

__all__ = [
    "CacheCheck",
    "DownloadWorker",
    "PlanWorker",
    "check_cache",
    "downloadable",
    "fetch_command",
    "format_size",
]

PROGRESS_INTERVAL_S = 0.05  # a 5 GB file is thousands of chunks; the bar needs ~20 updates/s


@dataclass(frozen=True)
class CacheCheck:
    """What the cache holds of a preset, read without the network."""

    preset: str
    variant: str
    parts: tuple[PartStatus, ...]
    offline: bool  # HF_HUB_OFFLINE: nothing may be fetched from here
    on_cpu: bool = False  # frames would run on the CPU (no CUDA or MPS device)

    @property
    def missing(self) -> list[str]:
        return missing_files(self.parts)

    @property
    def complete(self) -> bool:
        return not self.missing


def downloadable(model: str) -> bool:
    """True for presets whose files come from the Hub (not hub ids, folders or built-ins)."""
    preset = PRESETS.get(model)
    return preset is not None and preset.builtin is None


def fetch_command(preset: str) -> str:
    return f"live-canvas models download {preset}"


def check_cache(
    model: str,
    variant: str | None = None,
    device: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> CacheCheck:
    """Run in a worker thread: without ``variant`` it asks torch which weights the loader reads."""
    from desktop_app.engine.device import default_variant, runs_on_cpu
    from desktop_app.models.hub_errors import hub_is_offline
    from desktop_app.models.hub_files import preset_status

    if variant is None:
        variant = default_variant(device)
    parts = preset_status(model, variant, cache_dir)
    return CacheCheck(model, variant, parts, hub_is_offline(), runs_on_cpu(device))


class PlanWorker(QThread):
    """Asks the Hub which files (and how many bytes) the preset still needs."""

    planned = Signal(object)  # DownloadPlan
    plan_failed = Signal(str, object)  # message, missing repo/paths (empty unless unreachable)

    def __init__(self, preset: str, variant: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.preset, self.variant = preset, variant

    def run(self) -> None:
        from desktop_app.models.hub_files import plan_download, preset_status

        try:
            plan = plan_download(self.preset, self.variant)
        except HubUnreachableError as err:
            # plan_download knows the Hub failed, not what is missing; the cache says that.
            missing = err.missing or missing_files(preset_status(self.preset, self.variant))
            self.plan_failed.emit(user_message(err), tuple(missing))
            return
        except Exception as err:  # noqa: BLE001 - shown in the dialog as one line
            log_error(err, "planning a download")
            self.plan_failed.emit(user_message(err), ())
            return
        self.planned.emit(plan)


class DownloadWorker(QThread):
    """Runs ``download_preset`` once; ``cancel()`` stops it at the next chunk."""

    progress_changed = Signal(object)  # DownloadProgress
    finished_ok = Signal(object)  # DownloadResult
    failed = Signal(str)
    cancelled = Signal()

    def __init__(
        self,
        preset: str,
        variant: str,
        cache_dir: str | os.PathLike | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.preset, self.variant, self.cache_dir = preset, variant, cache_dir
        self.cancel_event = threading.Event()
        self._last_emit = 0.0
        self._last_index = -1

    def cancel(self) -> None:
        self.cancel_event.set()

    def _progress(self, p: DownloadProgress) -> None:
        # Per-chunk callbacks would flood the UI's event queue; a new file or a finished
        # one always gets through so the label and the final 100 % are never skipped.
        now = time.monotonic()
        boundary = p.index != self._last_index or p.file_done >= p.file_total
        if boundary or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit, self._last_index = now, p.index
            self.progress_changed.emit(p)

    def run(self) -> None:
        from desktop_app.models.downloads import download_preset

        try:
            result = download_preset(
                self.preset,
                self.variant,
                self.cache_dir,
                progress=self._progress,
                cancel=self.cancel_event,
            )
        except DownloadCancelled:
            self.cancelled.emit()
            return
        except Exception as err:  # noqa: BLE001 - every failure is one line in the dialog
            log_error(err, "downloading a model")
            self.failed.emit(user_message(err))
            return
        self.finished_ok.emit(result)

"""A verified, resumable download of a preset's files into the standard Hugging Face cache.

No Qt here: the app calls ``download_preset`` from a worker thread with a progress callback and
a cancel event. Files land in the standard Hugging Face cache (``HF_HOME``/``HF_HUB_CACHE``), so
the loader finds them offline afterwards.

huggingface_hub's own downloader deletes its partial file on any failure, so a 5 GB UNet would
start over after every dropped connection. We therefore move the bytes ourselves with its
``http_get`` into ``blobs/<etag>.incomplete`` (the name its cache scanner knows as an interrupted
download), check size and hash, rename it into place, and let ``hf_hub_download`` do the
bookkeeping (snapshot link, ``refs/main``) on a blob that already exists.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from desktop_app.core.errors import ModelLoadError
from desktop_app.models.hub_errors import hub_is_offline, is_transport_error
from desktop_app.models.hub_files import (
    CorruptDownloadError,
    DiskFullError,
    DownloadCancelled,
    DownloadProgress,
    DownloadResult,
    HubFile,
    HubUnreachableError,
    ProgressCallback,
    as_preset,
    cache_folder,
    check_variant,
    format_size,
    hub_failure,
    missing_files,
    offline_error,
    plan_download,
    preset_status,
    repo_storage,
)
from desktop_app.models.presets import Preset


class _Meter:
    """Stands in for tqdm inside huggingface_hub's http_get, which reports every chunk to it."""

    def __init__(self, on_chunk: Callable[[int], None], **_tqdm_kwargs):
        self._on_chunk = on_chunk

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        pass

    def update(self, n: float | None = 1) -> None:
        self._on_chunk(int(n or 0))

    def close(self) -> None:
        pass


class _Tally:
    """Byte counts for the progress callback; also where a cancel request takes effect."""

    def __init__(self, preset: str, total: int, count: int, progress, cancelled):
        self.preset, self.total, self.count = preset, total, count
        self.progress, self.cancelled = progress, cancelled
        self.done, self.file_done, self.index = 0, 0, 0
        self.file: HubFile | None = None  # the file being fetched, from ``start`` on

    def check(self) -> None:
        if self.cancelled():
            raise DownloadCancelled(
                f"download of {self.preset} cancelled; finished files are kept and the next "
                "download continues where this one stopped"
            )

    def start(self, index: int, file: HubFile, on_disk: int) -> None:
        self.index, self.file, self.file_done = index, file, on_disk
        self.emit()

    def chunk(self, n: int) -> None:
        self.file_done += n
        self.done += n
        self.check()  # before http_get writes the chunk, so the partial file stays a clean prefix
        self.emit()

    def finish(self) -> None:
        size = self._current().size
        self.done += size - self.file_done
        self.file_done = size
        self.emit()

    def emit(self) -> None:
        if self.progress is not None:
            f = self._current()
            self.progress(
                DownloadProgress(
                    f.repo,
                    f.path,
                    self.file_done,
                    f.size,
                    self.done,
                    self.total,
                    self.index,
                    self.count,
                )
            )

    def _current(self) -> HubFile:
        assert self.file is not None, "a file's bytes are counted only after start()"
        return self.file


def _cancel_check(cancel) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    return cancel.is_set if hasattr(cancel, "is_set") else cancel


def _open_partial(path: Path):
    return open(path, "ab")  # noqa: SIM115 - a seam: tests swap in a writer that fills the disk


def _mismatch(f: HubFile, path: Path, cancelled: Callable[[], bool]) -> str | None:
    """None when the file matches the Hub's size and hash, else what is wrong with it."""
    size = path.stat().st_size
    if size != f.size:
        return f"it has {size} bytes, the Hub says {f.size}"
    # LFS files carry a sha256; small files are checked against their git object id.
    if f.sha256:
        digest = hashlib.sha256()
    else:
        digest = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    expected = f.sha256 or f.blob_id
    if not expected:
        return None
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
            if cancelled():
                return None  # the caller stops at its next check; nothing is renamed
    return None if digest.hexdigest() == expected else "its checksum does not match the Hub's"


def _ref(storage: Path) -> str:
    try:
        return (storage / "refs" / "main").read_text().strip()
    except OSError:
        return ""


def _bytes_on_disk(cache: Path, f: HubFile, revision: str) -> int:
    storage = repo_storage(cache, f.repo)
    blob = storage / "blobs" / f.etag
    pointer = storage / "snapshots" / revision / f.path
    if blob.exists() or (_ref(storage) == revision and pointer.is_file()):
        return f.size
    partial = blob.with_name(f"{blob.name}.incomplete")
    return min(partial.stat().st_size, f.size) if partial.exists() else 0


def _free_bytes(path: Path) -> int:
    for folder in (path, *path.parents):
        if folder.exists():
            return shutil.disk_usage(folder).free
    return 1 << 62


def _transfer(f: HubFile, revision: str, storage: Path, etag: str, tally: _Tally) -> int:
    from huggingface_hub import hf_hub_url
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import WeakFileLock, build_hf_headers

    blob = storage / "blobs" / etag
    partial = blob.with_name(f"{blob.name}.incomplete")
    lock = storage.parent / ".locks" / storage.name / f"{etag}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    blob.parent.mkdir(parents=True, exist_ok=True)
    # The lock hf_hub_download takes for this blob: a loader in another process waits for us.
    with WeakFileLock(lock):
        if blob.exists():
            return 0
        start = partial.stat().st_size if partial.exists() else 0
        if start > f.size:
            partial.unlink()
            start = 0
        try:
            with _open_partial(partial) as out:
                http_get(
                    hf_hub_url(f.repo, f.path, revision=revision),
                    out,
                    resume_size=start,
                    headers=build_hf_headers(),
                    expected_size=f.size,
                    displayed_filename=f.path,
                    # http_get only calls tqdm_class(...) to make its bar, so a factory
                    # serves; its annotation asks for a tqdm subclass.
                    tqdm_class=cast(Any, functools.partial(_Meter, tally.chunk)),
                )
        except OSError:
            if partial.exists() and partial.stat().st_size > f.size:
                partial.unlink()  # more bytes than the file has: no prefix worth keeping
                raise CorruptDownloadError(
                    f"{f.repo}/{f.path} came back larger than the Hub says; the bad copy was "
                    "deleted, run the download again"
                ) from None
            raise
        problem = _mismatch(f, partial, tally.cancelled)
        tally.check()
        if problem:
            partial.unlink()
            raise CorruptDownloadError(
                f"{f.repo}/{f.path} is corrupt ({problem}); the bad copy was deleted, "
                "run the download again"
            )
        os.replace(partial, blob)  # atomic: the blob name only ever holds a verified file
    return f.size - start


def _fetch(f: HubFile, revision: str, cache: Path, tally: _Tally, verify: bool) -> int:
    """Puts one file in the cache snapshot for ``main``; returns the bytes received."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    storage = repo_storage(cache, f.repo)
    pointer = storage / "snapshots" / revision / f.path
    linked = _ref(storage) == revision and pointer.is_file()
    if linked and pointer.stat().st_size == f.size:
        if not verify or _mismatch(f, pointer, tally.cancelled) is None:
            return 0
    if linked:
        pointer.resolve().unlink()  # a damaged copy: fetch it again
        tally.done -= f.size
        tally.file_done = 0
    # Name the blob exactly as hf_hub_download will look for it, whatever the API listed.
    etag = get_hf_file_metadata(hf_hub_url(f.repo, f.path, revision=revision)).etag or f.etag
    received = 0
    if not (storage / "blobs" / etag).exists():
        received = _transfer(f, revision, storage, etag, tally)
    # The blob is in place, so this only links it into the snapshot and records refs/main.
    path = Path(hf_hub_download(f.repo, f.path, revision="main", cache_dir=cache))
    if path.stat().st_size != f.size:
        raise CorruptDownloadError(
            f"{f.repo}/{f.path} in the cache does not match the Hub; delete it and run again"
        )
    return received


def _download_failure(f: HubFile, cache: Path, err: BaseException) -> BaseException:
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(err, ModelLoadError):
        return err
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return DiskFullError(
            f"the disk holding {cache} is full (while writing {f.repo}/{f.path}); free some "
            "space or set HF_HOME to a bigger disk, then run the download again: it continues "
            "where it stopped"
        )
    if isinstance(err, HfHubHTTPError):
        return hub_failure(f.repo, err)
    if is_transport_error(err) or "Consistency check failed" in str(err):
        first = (str(err).splitlines() or [type(err).__name__])[0]
        return HubUnreachableError(
            f"download of {f.repo}/{f.path} stopped ({first}); run the download again "
            "to continue where it stopped"
        )
    if isinstance(err, OSError):  # a read-only or locked cache folder
        return ModelLoadError(
            f"cannot write to the model cache {cache}: {err.strerror or err}; "
            "set HF_HOME to a writable folder"
        )
    return err


def download_preset(
    preset: str | Preset,
    variant: str = "fp16",
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    cancel=None,
    verify: bool = False,
) -> DownloadResult:
    """Fetches every file the preset loads into the HF cache, verified.

    ``cancel`` is a ``threading.Event`` or a callable returning True to stop; it is checked
    between chunks and files. ``verify`` re-hashes files that are already cached.
    Raises ``DownloadCancelled``, ``DiskFullError``, ``CorruptDownloadError``,
    ``HubUnreachableError`` (with ``.missing``) or ``ModelLoadError``.
    """
    preset, cache = as_preset(preset), cache_folder(cache_dir)
    check_variant(variant)
    if preset.builtin:
        return DownloadResult(preset.name, (), 0, 0)
    statuses = preset_status(preset, variant, cache)
    if hub_is_offline():
        # No socket at all offline: the cache alone says whether anything is missing.
        if missing := missing_files(statuses):
            raise offline_error(preset, missing)
        return DownloadResult(preset.name, (), 0, sum(s.size_on_disk for s in statuses))
    try:
        plan = plan_download(preset, variant)
    except HubUnreachableError as err:
        raise HubUnreachableError(str(err), missing_files(statuses)) from None
    revisions = {part.repo: part.revision for part in plan.parts}
    on_disk = {f: _bytes_on_disk(cache, f, revisions[f.repo]) for f in plan.files}
    needed, free = plan.total_bytes - sum(on_disk.values()), _free_bytes(cache)
    if needed > free:
        raise DiskFullError(
            f"not enough disk space for {preset.name}: it needs {format_size(needed)} more in "
            f"{cache} but {format_size(free)} is free; free some space or set HF_HOME to a "
            "bigger disk"
        )
    tally = _Tally(preset.name, plan.total_bytes, len(plan.files), progress, _cancel_check(cancel))
    tally.done = sum(on_disk.values())
    fetched, received = [], 0
    for index, f in enumerate(plan.files):
        tally.check()
        tally.start(index, f, on_disk[f])
        try:
            got = _fetch(f, revisions[f.repo], cache, tally, verify)
        except Exception as err:  # noqa: BLE001 - every failure leaves as one line
            failure = _download_failure(f, cache, err)
            if failure is err:
                raise
            raise failure from None
        if got:
            fetched.append(f"{f.repo}/{f.path}")
            received += got
        tally.finish()
    return DownloadResult(preset.name, tuple(fetched), received, plan.total_bytes)

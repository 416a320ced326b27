"""Which Hub files a preset loads (only those: one precision, safetensors, no samples), and
whether they are already in the standard Hugging Face cache. Reads the cache without the
network; ``plan_download`` asks the Hub for sizes and hashes."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.errors import ModelLoadError
from desktop_app.models.hub_errors import (
    describe_hub_error,
    download_hint,
    hub_is_offline,
    is_transport_error,
)
from desktop_app.models.presets import Preset, get_preset, split_hub_spec

VARIANTS = ("fp16", "full")


class DownloadCancelled(ModelLoadError):
    """The user stopped the download; finished files stay, the current one resumes next time."""


class DiskFullError(ModelLoadError):
    """Not enough space in the cache folder."""


class CorruptDownloadError(ModelLoadError):
    """A file's size or hash does not match the Hub's metadata; the bad copy was deleted."""


class HubUnreachableError(ModelLoadError):
    """Offline mode or no network; ``missing`` lists the files not in the cache (repo/path)."""

    def __init__(self, message: str, missing: Sequence[str] = ()):
        super().__init__(message)
        self.missing = tuple(missing)


@dataclass(frozen=True)
class HubFile:
    repo: str
    path: str
    size: int
    sha256: str | None = None  # LFS files
    blob_id: str | None = None  # git object id, the etag of small files

    @property
    def etag(self) -> str:
        return self.sha256 or self.blob_id or ""


@dataclass(frozen=True)
class PartPlan:
    role: str
    repo: str
    revision: str  # the commit the file list was read from
    files: tuple[HubFile, ...]


@dataclass(frozen=True)
class DownloadPlan:
    preset: str
    variant: str
    parts: tuple[PartPlan, ...]

    @property
    def files(self) -> tuple[HubFile, ...]:
        return tuple(f for part in self.parts for f in part.files)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class PartStatus:
    role: str
    repo: str
    files: tuple[str, ...]  # paths in the repo that are cached
    missing: tuple[str, ...]  # paths the loader needs that are not cached
    size_on_disk: int
    source: str = ""  # the preset's spec: the repo, or "org/name/subfolder"

    @property
    def present(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class DownloadProgress:
    repo: str
    path: str
    file_done: int
    file_total: int
    done: int  # bytes of the whole preset on disk, counting what was there before
    total: int
    index: int  # 0-based number of the current file
    count: int


@dataclass(frozen=True)
class DownloadResult:
    preset: str
    fetched: tuple[str, ...]  # repo/path of files whose bytes moved in this run
    transferred: int  # bytes received in this run
    total: int  # bytes the preset needs in all


ProgressCallback = Callable[[DownloadProgress], None]


def format_size(n: int) -> str:
    size: float = n  # whole bytes, then a fraction of each larger unit
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # unreachable; keeps type checkers calm


def cache_folder(cache_dir: str | os.PathLike | None = None) -> Path:
    from huggingface_hub import constants

    return Path(cache_dir or constants.HF_HUB_CACHE).expanduser()


# --- which files the loader reads -----------------------------------------------------------


@dataclass(frozen=True)
class _Component:
    folder: str  # "" for the repo root; the file name itself for kind "file"
    kind: str  # diffusers, transformers, tokenizer, scheduler, file

    def path(self, name: str) -> str:
        return f"{self.folder}/{name}" if self.folder else name


# (weights stem, pickle fallback) as written by save_pretrained in each library
_STEMS = {
    "diffusers": ("diffusion_pytorch_model", "diffusion_pytorch_model.bin"),
    "transformers": ("model", "pytorch_model.bin"),
}


def _components(preset: Preset, role: str, subfolder: str | None) -> tuple[_Component, ...]:
    """Mirrors loading._load_diffusers: ControlNet, decoders and VAE load from the repo root,
    or from the subfolder their spec names (SDXS's decoders live inside its base repo)."""
    if role != "base":
        return (_Component(subfolder or "", "diffusers"),)
    comps = [_Component("model_index.json", "file"), _Component("unet", "diffusers")]
    for suffix in ("", "_2") if preset.family == "sdxl" else ("",):
        comps.append(_Component(f"text_encoder{suffix}", "transformers"))
        comps.append(_Component(f"tokenizer{suffix}", "tokenizer"))
    if not preset.full_vae:
        comps.append(_Component("vae", "diffusers"))
    comps.append(_Component("scheduler", "scheduler"))
    return tuple(comps)


def _weights(comp: _Component, names: Collection[str], variants: Sequence[str], read_index):
    stem, pickle_name = _STEMS[comp.kind]
    for variant in variants:
        tag = ".fp16" if variant == "fp16" else ""
        single = comp.path(f"{stem}{tag}.safetensors")
        if single in names:
            return [single], []
        index = comp.path(f"{stem}.safetensors.index{tag}.json")
        if index in names:
            shards = read_index(index) if read_index else None
            if shards is None:
                shard = re.compile(
                    rf"{re.escape(comp.path(stem))}(\.fp16)?-\d+-of-\d+(\.fp16)?\.safetensors"
                )
                shards = sorted(
                    n for n in names if shard.fullmatch(n) and (".fp16" in n) == bool(tag)
                )
            else:
                shards = sorted({comp.path(s) for s in shards})
            return [index, *(s for s in shards if s in names)], [
                s for s in shards if s not in names
            ]
    # Pickle weights only where no safetensors exist at all: that is what the loader falls back to.
    if comp.path(pickle_name) in names:
        return [comp.path(pickle_name)], []
    tag = ".fp16" if variants[0] == "fp16" else ""
    return [], [comp.path(f"{stem}{tag}.safetensors")]


def _resolve(comp: _Component, names: Collection[str], variants: Sequence[str], read_index=None):
    """(files to use, files missing) for one component, against a listing of repo paths."""
    if comp.kind == "tokenizer":
        prefix = comp.path("")
        found = sorted(n for n in names if n.startswith(prefix) and "/" not in n[len(prefix) :])
        if comp.path("tokenizer.json") in names:  # a fast tokenizer's file holds both
            return found, []
        required = [comp.path("vocab.json"), comp.path("merges.txt")]
        return found, [r for r in required if r not in names]
    if comp.kind == "file":
        need = [comp.folder]
    elif comp.kind == "scheduler":
        need = [comp.path("scheduler_config.json")]
    else:
        need = [comp.path("config.json")]
    files, missing = [n for n in need if n in names], [n for n in need if n not in names]
    if comp.kind in _STEMS:
        found, lost = _weights(comp, names, variants, read_index)
        files, missing = files + found, missing + lost
    return files, missing


def check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ModelLoadError(f"unknown weights variant {variant!r}; use fp16 or full")


def as_preset(preset: str | Preset) -> Preset:
    return preset if isinstance(preset, Preset) else get_preset(preset)


# --- what is in the cache (never touches the network) ----------------------------------------


def repo_storage(cache: Path, repo: str) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return cache / repo_folder_name(repo_id=repo, repo_type="model")


def _cached_listing(cache: Path, repo: str) -> tuple[Path | None, dict[str, int]]:
    """The snapshot ``refs/main`` points at, as the offline loader sees it: {path: size}."""
    storage = repo_storage(cache, repo)
    try:
        commit = (storage / "refs" / "main").read_text().strip()
    except OSError:
        return None, {}
    snapshot = storage / "snapshots" / commit
    listing: dict[str, int] = {}
    for folder, _dirs, files in os.walk(snapshot):
        for name in files:
            full = Path(folder, name)
            try:
                listing[full.relative_to(snapshot).as_posix()] = full.stat().st_size
            except OSError:  # a link whose blob was deleted counts as missing
                continue
    return snapshot, listing


def _local_index(snapshot: Path, index: str) -> list[str] | None:
    try:
        weight_map = json.loads((snapshot / index).read_text(encoding="utf-8"))["weight_map"]
        return list(weight_map.values())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def preset_status(
    preset: str | Preset, variant: str = "fp16", cache_dir: str | os.PathLike | None = None
) -> tuple[PartStatus, ...]:
    """For each Hub part of the preset: which of the files the loader reads are cached."""
    preset, cache = as_preset(preset), cache_folder(cache_dir)
    check_variant(variant)
    # The loader tries fp16 files and falls back to full ones; it never goes the other way.
    order = ("fp16", "full") if variant == "fp16" else ("full",)
    statuses = []
    for role, spec in preset.hub_parts:
        repo, subfolder = split_hub_spec(spec)
        snapshot, listing = _cached_listing(cache, repo)
        index = functools.partial(_local_index, snapshot) if snapshot else None
        files, missing = [], []
        for comp in _components(preset, role, subfolder):
            found, lost = _resolve(comp, listing, order, index)
            files += found
            missing += lost
        size = sum(listing[f] for f in files)
        statuses.append(PartStatus(role, repo, tuple(files), tuple(missing), size, spec))
    return tuple(statuses)


def missing_files(statuses: Sequence[PartStatus]) -> list[str]:
    return [f"{s.repo}/{m}" for s in statuses for m in s.missing]


# --- the plan: exact files, sizes and hashes from the Hub ------------------------------------


def hub_failure(repo: str, err: BaseException) -> ModelLoadError:
    from huggingface_hub.errors import OfflineModeIsEnabled

    if is_transport_error(err) or isinstance(err, OfflineModeIsEnabled):
        first = (str(err).splitlines() or [type(err).__name__])[0]
        return HubUnreachableError(
            f"cannot reach the Hugging Face Hub ({first}); check the connection, "
            f"or on a connected machine run: {download_hint(repo)}"
        )
    return ModelLoadError(describe_hub_error(repo, err))


def offline_error(preset: Preset, missing: Sequence[str]) -> HubUnreachableError:
    return HubUnreachableError(
        f"HF_HUB_OFFLINE is set and {len(missing)} file(s) of {preset.name} are not downloaded "
        f"(first: {missing[0]}); on a connected machine run: live-canvas models download "
        f"{preset.name}, then copy the cache folder (live-canvas models path)",
        missing,
    )


def plan_download(preset: str | Preset, variant: str = "fp16") -> DownloadPlan:
    """Asks the Hub for each part's file list and picks the files the loader reads."""
    from huggingface_hub import HfApi

    preset = as_preset(preset)
    check_variant(variant)
    if preset.builtin:
        return DownloadPlan(preset.name, variant, ())
    if hub_is_offline():
        raise offline_error(preset, missing_files(preset_status(preset, variant)) or ["?"])
    # A repo without the preferred variant still gets the other one rather than nothing.
    order = ("fp16", "full") if variant == "fp16" else ("full", "fp16")
    api, parts, infos = HfApi(), [], {}
    for role, spec in preset.hub_parts:
        repo, subfolder = split_hub_spec(spec)
        if repo not in infos:  # one listing per repository, however many parts it holds
            try:
                infos[repo] = api.model_info(repo, files_metadata=True)
            except Exception as err:  # noqa: BLE001 - becomes a one-line message
                raise hub_failure(repo, err) from None
        info = infos[repo]
        siblings = {s.rfilename: s for s in info.siblings or ()}
        files, missing = [], []
        for comp in _components(preset, role, subfolder):
            found, lost = _resolve(comp, siblings, order)
            files += found
            missing += lost
        if missing:
            raise ModelLoadError(
                f"{repo} on the Hugging Face Hub has no {', '.join(missing)}: "
                "the preset no longer matches the repository; please report it"
            )
        hub_files = []
        for path in files:
            s = siblings[path]
            size = s.size if s.size is not None else (s.lfs.size if s.lfs else 0)
            sha = s.lfs.sha256 if s.lfs else None
            hub_files.append(HubFile(repo, path, size, sha, s.blob_id))
        parts.append(PartPlan(role, repo, info.sha or "main", tuple(hub_files)))
    return DownloadPlan(preset.name, variant, tuple(parts))

"""The preset downloader against a fake Hub served from disk (tests/fake_hub.py).

huggingface_hub's real code runs: only its HTTP transport is swapped. Every test also refuses
sockets, so a test that reached for the network would fail instead of hanging.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections import namedtuple

import pytest
from fake_hub import SD_TURBO, UNET16, sd_turbo_files, sdxl_turbo_files
from huggingface_hub import constants, try_to_load_from_cache

from desktop_app.core.errors import ModelLoadError
from desktop_app.models import downloads
from desktop_app.models.downloads import download_preset
from desktop_app.models.hub_files import (
    CorruptDownloadError,
    DiskFullError,
    DownloadCancelled,
    HubUnreachableError,
    plan_download,
    preset_status,
)

pytestmark = pytest.mark.usefixtures("sockets")


@pytest.fixture
def hub_repos():
    """Both sd-turbo's and sdxl-turbo's repos (overrides conftest's)."""
    return {**sd_turbo_files(), **sdxl_turbo_files()}


def cached(repo: str, path: str, cache) -> bytes | None:
    found = try_to_load_from_cache(repo, path, cache_dir=cache)
    return open(found, "rb").read() if isinstance(found, str) else None


def partials(cache) -> list:
    return sorted(cache.rglob("*.incomplete"))


def test_plan_takes_only_the_files_the_loader_reads(hub):
    plan = plan_download("sd-turbo", "fp16")
    by_repo = {part.repo: sorted(f.path for f in part.files) for part in plan.parts}
    assert by_repo[SD_TURBO] == sorted(
        [
            "model_index.json",
            "scheduler/scheduler_config.json",
            "text_encoder/config.json",
            "text_encoder/model.fp16.safetensors",
            "tokenizer/merges.txt",
            "tokenizer/special_tokens_map.json",
            "tokenizer/tokenizer_config.json",
            "tokenizer/vocab.json",
            "unet/config.json",
            UNET16,
            "vae/config.json",
            "vae/diffusion_pytorch_model.fp16.safetensors",
        ]
    )
    root = ["config.json", "diffusion_pytorch_model.safetensors"]
    assert by_repo["thibaud/controlnet-sd21-scribble-diffusers"] == root
    assert by_repo["madebyollin/taesd"] == root
    sizes = {f.path: f.size for f in plan.files}
    assert sizes[UNET16] == 4000
    assert plan.total_bytes == sum(f.size for f in plan.files)

    full = {f.path for f in plan_download("sd-turbo", "full").files}
    assert "unet/diffusion_pytorch_model.safetensors" in full
    assert not any(".fp16." in p for p in full)
    assert not any(p.endswith((".bin", ".ckpt", ".png", ".pth")) for p in full)


def test_plan_follows_shards_and_skips_the_replaced_vae(hub):
    plan = plan_download("sdxl-turbo", "fp16")
    base = {f.path for f in plan.parts[0].files}
    assert "unet/diffusion_pytorch_model.safetensors.index.fp16.json" in base
    assert "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors" in base
    assert "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors" in base
    assert "unet/diffusion_pytorch_model.safetensors" not in base
    assert {"text_encoder_2/model.fp16.safetensors", "tokenizer_2/vocab.json"} <= base
    assert not any(p.startswith("vae/") for p in base)  # the fp16-fix VAE replaces it
    assert not any(p.startswith("sd_xl_turbo") for p in base)
    controlnet = {f.path for f in plan.parts[1].files}
    assert controlnet == {"config.json", "diffusion_pytorch_model.safetensors"}


def test_download_fills_the_cache_and_reports_progress(hub, cache):
    events = []
    result = download_preset("sd-turbo", "fp16", progress=events.append)

    plan = plan_download("sd-turbo", "fp16")
    # Identical files (the same config.json in three folders) share one blob in the cache.
    blobs = {(f.repo, f.etag): f.size for f in plan.files}
    assert result.total == plan.total_bytes
    assert result.transferred == sum(blobs.values())
    assert len(result.fetched) == len(blobs)
    for f in plan.files:
        assert cached(f.repo, f.path, cache) == hub.files(f.repo)[f.path]
    assert events[-1].done == events[-1].total == plan.total_bytes
    unet = [e for e in events if e.path == UNET16]
    assert unet[0].file_done == 0 and unet[-1].file_done == unet[-1].file_total == 4000
    assert len(unet) > 3  # one per chunk, not just start and end
    assert all(e.count == len(plan.files) for e in events)
    assert [e.done for e in events] == sorted(e.done for e in events)
    assert not partials(cache)

    statuses = preset_status("sd-turbo", "fp16")
    assert all(s.present for s in statuses)
    assert statuses[0].size_on_disk == sum(f.size for f in plan.parts[0].files)


def test_second_download_moves_no_bytes(hub, cache):
    download_preset("sd-turbo", "fp16")
    served = sum(hub.bytes_served.values())
    result = download_preset("sd-turbo", "fp16")
    assert result.fetched == () and result.transferred == 0
    assert sum(hub.bytes_served.values()) == served


def test_interrupted_download_resumes_where_it_stopped(hub, cache):
    key = f"{SD_TURBO}/{UNET16}"
    hub.break_after[key] = 2500
    with pytest.raises(HubUnreachableError, match="run the download again"):
        download_preset("sd-turbo", "fp16")
    assert cached(SD_TURBO, UNET16, cache) is None  # nothing half-written under the real name
    [partial] = partials(cache)
    kept = partial.stat().st_size
    assert 0 < kept < 4000

    hub.bytes_served.clear()
    download_preset("sd-turbo", "fp16")
    assert hub.bytes_served[key] == 4000 - kept
    assert f"bytes={kept}-" in [r for _m, _p, r in hub.requests]
    assert cached(SD_TURBO, UNET16, cache) == hub.files(SD_TURBO)[UNET16]
    assert not partials(cache)


def test_cancel_stops_between_chunks_and_leaves_no_corrupt_file(hub, cache):
    stop = threading.Event()

    def progress(p):
        if p.path == UNET16 and p.file_done >= 2048:
            stop.set()

    with pytest.raises(DownloadCancelled, match="continues where this one stopped"):
        download_preset("sd-turbo", "fp16", progress=progress, cancel=stop)
    assert cached(SD_TURBO, UNET16, cache) is None
    assert len(partials(cache)) == 1

    result = download_preset("sd-turbo", "fp16")
    assert f"{SD_TURBO}/{UNET16}" in result.fetched
    assert cached(SD_TURBO, UNET16, cache) == hub.files(SD_TURBO)[UNET16]


def test_cancel_callable_before_start(hub, cache):
    with pytest.raises(DownloadCancelled):
        download_preset("sd-turbo", "fp16", cancel=lambda: True)
    assert not list(cache.rglob("blobs/*"))


def test_corrupt_bytes_are_detected_and_deleted(hub, cache):
    good = hub.files(SD_TURBO)[UNET16]
    hub.serve_instead[f"{SD_TURBO}/{UNET16}"] = bytes(len(good))  # right size, wrong content
    with pytest.raises(CorruptDownloadError, match=f"{UNET16} is corrupt"):
        download_preset("sd-turbo", "fp16")
    assert cached(SD_TURBO, UNET16, cache) is None
    assert not partials(cache)
    blobs = cache / "models--stabilityai--sd-turbo" / "blobs"
    assert not (blobs / hashlib.sha256(good).hexdigest()).exists()


def test_oversized_file_is_detected(hub, cache):
    good = hub.files(SD_TURBO)[UNET16]
    hub.serve_instead[f"{SD_TURBO}/{UNET16}"] = good + b"extra bytes"
    with pytest.raises(CorruptDownloadError, match="larger than the Hub says"):
        download_preset("sd-turbo", "fp16")
    assert not partials(cache)


def test_verify_refetches_a_damaged_cached_file(hub, cache):
    download_preset("sd-turbo", "fp16")
    blob = cache / "models--stabilityai--sd-turbo" / "blobs"
    target = blob / hashlib.sha256(hub.files(SD_TURBO)[UNET16]).hexdigest()
    target.write_bytes(bytes(4000))  # bit rot: same size, other bytes
    assert download_preset("sd-turbo", "fp16").fetched == ()  # size checks cannot see it
    result = download_preset("sd-turbo", "fp16", verify=True)
    assert result.fetched == (f"{SD_TURBO}/{UNET16}",)
    assert cached(SD_TURBO, UNET16, cache) == hub.files(SD_TURBO)[UNET16]


def test_offline_never_opens_a_socket_and_names_missing_files(hub, cache, monkeypatch, sockets):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnreachableError) as err:
        download_preset("sd-turbo", "fp16")
    message = str(err.value)
    assert "HF_HUB_OFFLINE is set" in message
    assert "live-canvas models download sd-turbo" in message
    assert "\n" not in message
    assert f"{SD_TURBO}/{UNET16}" in err.value.missing
    assert hub.requests == [] and sockets == []


def test_offline_with_everything_cached_is_fine(hub, cache, monkeypatch, sockets):
    download_preset("sd-turbo", "fp16")
    hub.requests.clear()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    result = download_preset("sd-turbo", "fp16")
    assert result.fetched == () and result.total > 0
    assert hub.requests == [] and sockets == []


def test_no_network_is_one_clear_line(hub, cache):
    hub.unreachable = True
    with pytest.raises(HubUnreachableError, match="cannot reach the Hugging Face Hub") as err:
        download_preset("sd-turbo", "fp16")
    assert "live-canvas models download sd-turbo" in str(err.value)
    assert f"{SD_TURBO}/{UNET16}" in err.value.missing


def test_unknown_repo_is_reported(hub, cache):
    shutil.rmtree(hub.root / "madebyollin" / "taesd")
    with pytest.raises(ModelLoadError, match="madebyollin/taesd"):
        download_preset("sd-turbo", "fp16")


def test_not_enough_space_is_refused_before_writing(hub, cache, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(downloads.shutil, "disk_usage", lambda _p: usage(10**6, 10**6, 100))
    with pytest.raises(DiskFullError, match="not enough disk space for sd-turbo"):
        download_preset("sd-turbo", "fp16")
    assert not list(cache.rglob("blobs/*"))


def test_disk_filling_up_mid_file_is_clear_and_resumable(hub, cache, monkeypatch):
    real_open = downloads._open_partial

    class FullDisk:
        def __init__(self, path):
            self.file = real_open(path)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def tell(self):
            return self.file.tell()

        def write(self, data):
            if self.file.tell() + len(data) > 3000:
                raise OSError(28, "No space left on device")
            return self.file.write(data)

    monkeypatch.setattr(downloads, "_open_partial", FullDisk)
    with pytest.raises(DiskFullError, match="is full") as err:
        download_preset("sd-turbo", "fp16")
    assert "\n" not in str(err.value)
    assert cached(SD_TURBO, UNET16, cache) is None

    monkeypatch.setattr(downloads, "_open_partial", real_open)
    hub.bytes_served.clear()
    download_preset("sd-turbo", "fp16")
    assert hub.bytes_served[f"{SD_TURBO}/{UNET16}"] < 4000
    assert cached(SD_TURBO, UNET16, cache) == hub.files(SD_TURBO)[UNET16]


def test_status_on_an_empty_cache_lists_every_part_missing(cache, sockets):
    statuses = preset_status("sdxl-turbo", "fp16")
    assert [s.role for s in statuses] == [
        "base",
        "controlnet",
        "preview decoder",
        "full-quality VAE",
    ]
    assert all(not s.present and s.size_on_disk == 0 for s in statuses)
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in statuses[0].missing
    assert sockets == []


def test_status_follows_the_loaders_variant_rule(hub, cache):
    download_preset("sd-turbo", "fp16")
    assert all(s.present for s in preset_status("sd-turbo", "fp16"))
    # A CPU loads full-precision weights: fp16 files alone do not serve it.
    base = preset_status("sd-turbo", "full")[0]
    assert "unet/diffusion_pytorch_model.safetensors" in base.missing


@pytest.mark.parametrize("name", ["tiny", "random:sdxl", "random:sd21"])
def test_builtin_presets_need_nothing(name, cache, sockets):
    assert plan_download(name).files == ()
    assert preset_status(name) == ()
    result = download_preset(name)
    assert result.fetched == () and result.total == 0
    assert sockets == []


def test_unknown_preset_and_variant(cache):
    with pytest.raises(ModelLoadError, match="unknown preset 'nope'"):
        download_preset("nope")
    with pytest.raises(ModelLoadError, match="unknown weights variant"):
        preset_status("sd-turbo", "fp8")

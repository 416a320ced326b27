"""The download threads and the controller's cache check, against the fake Hub.

Like tests/test_downloads.py, every test refuses sockets: the fake Hub answers from disk
under huggingface_hub's HTTP client, and anything reaching for the network fails loudly.
"""

from __future__ import annotations

import hashlib

import fake_hub
import pytest
from fake_hub import SD_TURBO, UNET16, FakeHub, sd_turbo_files
from huggingface_hub import try_to_load_from_cache

from desktop_app.app.download_worker import DownloadWorker, PlanWorker, check_cache
from desktop_app.models.downloads import download_preset

pytestmark = pytest.mark.usefixtures("sockets")

SCALE = 4  # the UNet is 16 body chunks; ``gate`` holds it after 3


@pytest.fixture
def hub_repos():
    return sd_turbo_files(scale=SCALE)


def assert_cache_is_sound(hub: FakeHub, cache) -> None:
    """Every file the cache serves is byte-exact; partial files are clean prefixes."""
    for repo, files in sd_turbo_files(scale=SCALE).items():
        for path, data in files.items():
            found = try_to_load_from_cache(repo, path, cache_dir=cache)
            if isinstance(found, str):
                assert open(found, "rb").read() == data, f"{repo}/{path} is corrupt"
    for blob in cache.rglob("blobs/*"):
        data = blob.read_bytes()
        etag = blob.name.removesuffix(".incomplete")
        if blob.name.endswith(".incomplete"):
            full = next(
                d
                for files in sd_turbo_files(scale=SCALE).values()
                for d in files.values()
                if hashlib.sha256(d).hexdigest() == etag
            )
            assert full.startswith(data) and len(data) < len(full)
        else:
            assert etag in (hashlib.sha256(data).hexdigest(), fake_hub.git_blob_id(data))


def run_worker(qtbot, worker, signal, timeout=20000):
    with qtbot.waitSignal(signal, timeout=timeout) as blocker:
        worker.start()
    assert worker.wait(5000)
    return blocker.args


def test_check_cache_reads_the_cache_without_the_network(fake, cache, sockets):
    check = check_cache("sd-turbo", "fp16")
    assert check.offline and not check.complete
    assert f"{SD_TURBO}/{UNET16}" in check.missing
    assert [part.repo for part in check.parts][0] == SD_TURBO
    assert fake.requests == [] and sockets == []


def test_plan_worker_reports_the_total_size(qtbot, hub):
    worker = PlanWorker("sd-turbo", "fp16")
    (plan,) = run_worker(qtbot, worker, worker.planned)
    assert plan.total_bytes == sum(f.size for f in plan.files) > 16000


def test_plan_worker_unreachable_hub_lists_the_missing_files(qtbot, hub):
    hub.unreachable = True
    worker = PlanWorker("sd-turbo", "fp16")
    message, missing = run_worker(qtbot, worker, worker.plan_failed)
    assert "cannot reach the Hugging Face Hub" in message
    assert f"{SD_TURBO}/{UNET16}" in missing


def test_download_worker_reports_progress_and_fills_the_cache(qtbot, hub, cache):
    worker = DownloadWorker("sd-turbo", "fp16")
    seen = []
    worker.progress_changed.connect(seen.append)
    (result,) = run_worker(qtbot, worker, worker.finished_ok)
    qtbot.waitUntil(lambda: bool(seen) and seen[-1].done == seen[-1].total)
    assert result.preset == "sd-turbo" and 0 < result.transferred <= result.total
    done = [p.done for p in seen]
    assert done == sorted(done)
    assert UNET16 in {p.path for p in seen}
    assert check_cache("sd-turbo", "fp16").complete
    assert_cache_is_sound(hub, cache)


def test_cancel_stops_part_way_and_leaves_no_corrupt_file(qtbot, hub, cache, gate):
    reached, release = gate
    worker = DownloadWorker("sd-turbo", "fp16")
    failed = []
    worker.failed.connect(failed.append)
    with qtbot.waitSignal(worker.cancelled, timeout=20000):
        worker.start()
        assert reached.wait(10)
        worker.cancel()
        release.set()
    assert worker.wait(5000)
    assert failed == []
    assert try_to_load_from_cache(SD_TURBO, UNET16, cache_dir=cache) is None
    assert list(cache.rglob("*.incomplete")), "the partial UNet is kept for resuming"
    assert_cache_is_sound(hub, cache)
    assert not check_cache("sd-turbo", "fp16").complete

    # The next download continues from the partial file instead of starting over.
    served = hub.bytes_served[f"{SD_TURBO}/{UNET16}"]
    again = DownloadWorker("sd-turbo", "fp16")
    (result,) = run_worker(qtbot, again, again.finished_ok)
    unet = len(sd_turbo_files(scale=SCALE)[SD_TURBO][UNET16])
    assert hub.bytes_served[f"{SD_TURBO}/{UNET16}"] - served < unet
    assert result.transferred < result.total
    assert_cache_is_sound(hub, cache)


def test_offline_download_fails_with_the_command_and_no_socket(qtbot, fake, sockets):
    worker = DownloadWorker("sd-turbo", "fp16")
    (message,) = run_worker(qtbot, worker, worker.failed)
    assert "live-canvas models download sd-turbo" in message
    assert fake.requests == [] and sockets == []


def test_controller_asks_for_a_download_instead_of_loading(qtbot, rig, fake, sockets):
    controller = rig()
    controller.gate.variant = "fp16"
    loads = []
    original = controller.worker.load_model
    controller.worker.load_model = lambda model, device=None: (
        loads.append(model),
        original(model, device),
    )
    with qtbot.waitSignal(controller.gate.download_needed, timeout=5000) as blocker:
        controller.load_model("sd-turbo")
    check = blocker.args[0]
    assert check.preset == "sd-turbo" and check.missing and check.offline
    assert loads == [] and controller.gate.load_error
    assert controller.frames.request_frame() is None  # nothing renders; sketching goes on
    assert fake.requests == [] and sockets == []


def test_controller_loads_a_preset_that_is_cached(qtbot, rig, hub):
    download_preset("sd-turbo", "fp16")
    controller = rig()
    controller.gate.variant = "fp16"
    needed = []
    controller.gate.download_needed.connect(needed.append)
    with qtbot.waitSignal(controller.gate.engine_loaded, timeout=5000):
        controller.load_model("sd-turbo")
    assert needed == []


def test_a_newer_choice_wins_over_a_pending_cache_check(qtbot, rig, fake):
    controller = rig()
    controller.gate.variant = "fp16"
    needed = []
    controller.gate.download_needed.connect(needed.append)
    with qtbot.waitSignal(controller.gate.engine_loaded, timeout=5000):
        controller.load_model("sd-turbo")
        controller.load_model("fake")
    qtbot.wait(100)
    assert needed == [] and controller.gate.load_error is None

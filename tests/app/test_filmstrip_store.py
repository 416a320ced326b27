"""The filmstrip on disk: a round trip, the byte budget (oldest unpinned pictures first), and
damaged files kept aside without stopping anything."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.app import files
from desktop_app.app.filmstrip_store import (
    FilmstripKeeper,
    FilmstripStore,
    StoredPicture,
    within_budget,
)
from desktop_app.app.history import History
from desktop_app.core.types import FrameResult, FrameTimings, GenerationParams


def params(seed: int, **changes) -> GenerationParams:
    values = dict(
        prompt=f"picture {seed}",
        seed=seed,
        steps=1,
        size=128,
        model="m",
        mode="scribble",
        control_scale=1.0,
        strength=None,
    )
    return GenerationParams(**{**values, **changes})


def noise(seed: int, side: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)


def picture(seed: int, pinned: bool = False) -> StoredPicture:
    return StoredPicture(f"p{seed}.png", noise(seed), params(seed), pinned)


def test_pictures_settings_and_pins_come_back_exactly(tmp_path):
    store = FilmstripStore(tmp_path)
    colour = params(
        3,
        mode="colour",
        strength=0.6,
        loras=(("ink", 0.8, "abcdef012345"),),
        prompt="un renard, 狐",
    )
    kept = (StoredPicture("a.png", noise(1), colour, True), picture(2))
    assert store.save(kept) == ("a.png", "p2.png")
    loaded = FilmstripStore(tmp_path).load()
    assert loaded.notices == ()
    for want, got in zip(kept, loaded.pictures, strict=True):
        assert (got.name, got.params, got.pinned) == (want.name, want.params, want.pinned)
        assert np.array_equal(got.image, want.image)


def test_a_finished_picture_comes_back_larger_with_its_second_pass(tmp_path):
    finished = params(4, hires_upscale=1.5, hires_steps=4, denoising_strength=0.4)
    kept = (StoredPicture("f.png", noise(4, side=96), finished, False), picture(5))
    FilmstripStore(tmp_path).save(kept)
    loaded = FilmstripStore(tmp_path).load()
    assert loaded.notices == ()
    got = loaded.pictures[0]
    assert got.params == finished and got.image.shape == (96, 96, 3)
    assert loaded.pictures[1].params.hires_upscale is None


def test_a_finish_scale_out_of_its_range_is_a_damaged_index(tmp_path):
    finished = params(4, hires_upscale=2.0, hires_steps=4, denoising_strength=0.4)
    FilmstripStore(tmp_path).save((StoredPicture("f.png", noise(4), finished, False),))
    index = tmp_path / "index.json"
    index.write_text(index.read_text().replace('"hires_upscale": 2.0', '"hires_upscale": 9.0'))
    loaded = FilmstripStore(tmp_path).load()
    assert loaded.pictures == () and "finish scale must be" in loaded.notices[0]


def test_the_oldest_unpinned_pictures_go_first_to_stay_within_the_budget():
    newest_first = (picture(5), picture(4), picture(3, pinned=True), picture(2), picture(1))
    sizes = {p.name: 10 for p in newest_first}
    names = [p.name for p in within_budget(newest_first, sizes, 30)]
    assert names == ["p5.png", "p4.png", "p3.png"]  # 1 and 2 went, the pinned 3 stayed
    names = [p.name for p in within_budget(newest_first, sizes, 10)]
    assert names == ["p3.png"]  # every unpinned one went before the pin
    assert within_budget(newest_first, sizes, 5) == ()


def test_the_files_on_disk_stay_within_the_budget(tmp_path):
    one = len(_png(noise(1)))
    store = FilmstripStore(tmp_path, max_bytes=int(one * 2.5))
    pictures = tuple(picture(seed, pinned=seed == 1) for seed in (4, 3, 2, 1))
    assert store.save(pictures) == ("p4.png", "p1.png")
    on_disk = sorted(p.name for p in tmp_path.glob("*.png"))
    assert on_disk == ["p1.png", "p4.png"]
    assert sum(p.stat().st_size for p in tmp_path.glob("*.png")) <= store.max_bytes
    assert [p.name for p in FilmstripStore(tmp_path).load().pictures] == ["p4.png", "p1.png"]


def _png(image: np.ndarray) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "index",
    [
        "not json",
        '{"format": 1, "entries": [{"file": "../escape.png", "pinned": false, "params": {}}]}',
        '{"format": 1, "entries": [{"file": "a.png", "pinned": "yes", "params": {}}]}',
        '{"format": 99, "entries": []}',
        "[]",
    ],
)
def test_a_damaged_index_is_kept_aside_and_the_filmstrip_starts_empty(tmp_path, index):
    (tmp_path / "index.json").write_text(index)
    loaded = FilmstripStore(tmp_path).load()
    assert loaded.pictures == ()
    (notice,) = loaded.notices
    assert notice.startswith("The filmstrip could not be read (") and "\n" not in notice
    assert not (tmp_path / "index.json").exists()
    assert len(list(tmp_path.glob("index.damaged-*.json"))) == 1


def test_a_setting_out_of_its_range_is_a_damaged_index(tmp_path):
    FilmstripStore(tmp_path).save((picture(1),))
    index = tmp_path / "index.json"
    index.write_text(index.read_text().replace('"seed": 1', '"seed": -4'))
    loaded = FilmstripStore(tmp_path).load()
    assert loaded.pictures == () and "seed must be" in loaded.notices[0]


def test_a_damaged_picture_is_left_out_and_kept_aside(tmp_path):
    store = FilmstripStore(tmp_path)
    store.save((picture(2), picture(1)))
    (tmp_path / "p2.png").write_bytes(b"\x89PNG broken")
    loaded = FilmstripStore(tmp_path).load()
    assert [p.name for p in loaded.pictures] == ["p1.png"]
    assert len(loaded.notices) == 1 and "filmstrip picture could not be read" in loaded.notices[0]
    assert len(list(tmp_path.glob("p2.damaged-*.png"))) == 1


def test_a_failed_write_is_said_once_and_the_next_change_is_written(qtbot, tmp_path, monkeypatch):
    history = History()
    keeper = FilmstripKeeper(history, tmp_path / "filmstrip")
    said = []
    keeper.notice.connect(said.append)
    real_save = files.save_image
    failing = [True]

    def save_image(path, image):
        if failing[0]:
            raise MemoryError()
        real_save(path, image)

    monkeypatch.setattr(files, "save_image", save_image)
    for seed in (1, 2):
        history.add(FrameResult(noise(seed), params(seed), FrameTimings()))
        keeper.wait()
    qtbot.waitUntil(lambda: bool(said), timeout=2000)
    assert said == ["Saving the filmstrip failed: MemoryError; retrying"]
    failing[0] = False
    history.set_pinned(history.entries[1].entry_id, True)
    keeper.wait()
    loaded = FilmstripStore(tmp_path / "filmstrip").load()
    assert [(p.params.seed, p.pinned) for p in loaded.pictures] == [(2, False), (1, True)]
    assert len(said) == 1

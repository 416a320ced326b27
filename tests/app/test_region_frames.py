"""A selection's mask and how it is kept; what region each frame gets (the selection, the
locked picture's changed neighbourhood, nothing, or a full frame)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from desktop_app.app.drawing import Drawing
from desktop_app.app.drawing_file import drawing_chunks
from desktop_app.app.files import Autosave
from desktop_app.app.region_frames import FULL, SKIP, RegionFrames, changed_region, keep_at
from desktop_app.app.selection import Selection
from desktop_app.app.state import LiveState
from desktop_app.core.types import GenerationParams


def test_a_rectangle_selects_the_pixels_inside_it():
    selection = Selection.rectangle((10, 20), (30, 25), 64, 48)
    assert selection is not None and selection.mask.shape == (48, 64)
    expected = np.zeros((48, 64), bool)
    expected[20:25, 10:30] = True
    assert np.array_equal(selection.mask, expected)
    # Drawn from any corner, the same rectangle.
    assert np.array_equal(Selection.rectangle((30, 25), (10, 20), 64, 48).mask, expected)


def test_a_lasso_selects_inside_its_outline_and_a_part_off_the_page_is_cut():
    triangle = Selection.make([(0, 0), (40, 0), (0, 40)], 64, 64)
    assert triangle is not None
    assert triangle.mask[5, 5] and not triangle.mask[35, 35]
    half_off = Selection.rectangle((-20, -20), (10, 10), 64, 64)
    assert half_off is not None and half_off.mask.sum() == 100


@pytest.mark.parametrize(
    "points",
    [
        [(5, 5), (5, 5), (5, 5)],  # a click
        [(0, 0), (30, 0)],  # a line
        [(-30, -30), (-10, -30), (-10, -10), (-30, -10)],  # off the page
        [(70, 10), (90, 10), (90, 30)],  # off the page on the other side
    ],
)
def test_an_empty_selection_or_one_outside_the_page_is_none(points):
    assert Selection.make(points, 64, 64) is None


def test_a_selection_is_kept_as_json_and_scaled_to_another_page():
    selection = Selection.make([(1.5, 2), (40, 3.25), (30, 50)], 64, 64)
    raw = json.loads(json.dumps(selection.to_stored()))
    assert Selection.from_stored(raw) == selection
    bigger = Selection.from_stored(raw, 128, 128)
    assert bigger.points[1] == (80.0, 6.5) and bigger.mask.shape == (128, 128)


@pytest.mark.parametrize(
    "raw",
    [
        "a square",
        {"points": "no"},
        {"points": [[1, 2], [3, 4], [5, 6]], "page": [0, 10]},
        {"points": [[1, 2], [3, "x"], [5, 6]], "page": [10, 10]},
        {"points": [[1, 2], [3, float("nan")], [5, 6]], "page": [10, 10]},
        {"points": [[1, 2, 3]], "page": [10, 10]},
        {"points": [[1, 2], [3, 4], [5, 6]], "page": [10, True]},
    ],
)
def test_a_stored_selection_that_is_not_one_is_refused_in_words(raw):
    with pytest.raises(ValueError, match="selection"):
        Selection.from_stored(raw)


def test_the_autosave_keeps_the_selection_and_drops_a_broken_one(tmp_path):
    autosave = Autosave(tmp_path)
    selection = Selection.rectangle((1, 1), (9, 9), 16, 16)
    autosave.save(np.full((16, 16, 3), 255, np.uint8), {"selection": selection.to_stored()})
    assert autosave.load().selection == selection
    autosave.save(None, {"selection": {"points": 3}})
    restored = autosave.load()
    assert restored.selection is None
    assert restored.notices == ("autosaved session: the selection is not an outline; nothing "
                                "is selected",)


def test_an_export_carries_the_selection_of_the_frame():
    selection = Selection.rectangle((1, 1), (9, 9), 16, 16)
    drawing = Drawing(np.full((16, 16, 3), 255, np.uint8), selection=selection)
    params = GenerationParams("p", 1, 1, 512, "fake", "scribble", 1.0, None, composed=True)
    text, _chunks = drawing_chunks(drawing, params)
    assert json.loads(text["live-canvas"])["selection"] == selection.to_stored()


def test_the_changed_region_is_the_bounding_box_grown_by_the_margin():
    before = np.full((100, 100, 3), 255, np.uint8)
    after = before.copy()
    after[40, 30] = 0
    after[45, 50] = 0
    region = changed_region(after, before, 10)
    expected = np.zeros((100, 100), bool)
    expected[30:56, 20:61] = True
    assert np.array_equal(region, expected)
    after[0, 99] = 0  # clipped to the page
    assert changed_region(after, before, 10)[0:56, 20:100].all()
    assert changed_region(before, before, 10) is None


def _planner(qapp, locked=False, selection=None) -> RegionFrames:
    state = LiveState()
    state.picture_locked = locked
    regions = RegionFrames(state)
    regions.set_selection(selection)
    return regions


def test_each_frame_gets_its_region(qapp):
    page = np.full((64, 64, 3), 255, np.uint8)
    drawn = page.copy()
    drawn[10:12, 10:20] = 0
    shown = np.full((128, 128, 3), 90, np.uint8)
    assert _planner(qapp).plan(drawn, 128, shown, page) is FULL  # nothing selected nor locked
    box = Selection.rectangle((0, 0), (32, 64), 64, 64)
    plan = _planner(qapp, selection=box).plan(drawn, 128, shown, page)
    assert np.array_equal(plan.region, box.mask) and plan.keep is shown
    assert _planner(qapp, selection=box).plan(drawn, 128, None, None) is FULL  # no picture yet
    locked = _planner(qapp, locked=True)
    assert locked.plan(page, 128, shown, page) is SKIP and locked.last_skipped
    plan = locked.plan(drawn, 128, shown, page)
    assert plan.region[10, 10] and not plan.region[40:, :].any()  # margin 8 at 64²
    far = Selection.rectangle((40, 40), (64, 64), 64, 64)
    assert _planner(qapp, True, far).plan(drawn, 128, shown, page) is SKIP  # outside it
    # A picture of another size (a smaller frame in motion) is kept at the frame's size.
    assert keep_at(np.zeros((64, 64, 3), np.uint8), 128).shape == (128, 128, 3)

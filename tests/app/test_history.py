"""The filmstrip's history: newest first, a bounded count, pinned entries never evicted."""

from __future__ import annotations

import numpy as np

from desktop_app.app.history import History
from desktop_app.core.types import FrameResult, FrameTimings, GenerationParams


def result(seed: int) -> FrameResult:
    params = GenerationParams(prompt="p", seed=seed, steps=1, size=64, model="m",
                              mode="scribble", control_scale=1.0, strength=None)
    return FrameResult(np.zeros((64, 64, 3), np.uint8), params, FrameTimings(), seed)


def seeds(history: History) -> list[int]:
    return [e.result.params.seed for e in history.entries]


def test_the_oldest_unpinned_entry_is_evicted_and_pinned_ones_stay(qapp):
    history = History(limit=3)
    first = history.add(result(1))
    history.add(result(2))
    history.set_pinned(first.entry_id, True)
    for seed in (3, 4, 5):
        history.add(result(seed))
    assert seeds(history) == [5, 4, 1]  # 2 and 3 went; the pinned 1 stayed though oldest
    assert history.find(first.entry_id) is first


def test_when_every_entry_is_pinned_the_history_grows_past_its_limit(qapp):
    history = History(limit=2)
    for seed in (1, 2):
        history.set_pinned(history.add(result(seed)).entry_id, True)
    history.add(result(3))
    assert seeds(history) == [3, 2, 1]
    history.add(result(4))  # the unpinned 3 is the one to go
    assert seeds(history) == [4, 2, 1]


def test_unpinning_lets_an_entry_be_evicted_again(qapp):
    history = History(limit=2)
    first = history.add(result(1))
    history.set_pinned(first.entry_id, True)
    history.add(result(2))
    history.set_pinned(first.entry_id, False)
    history.add(result(3))
    assert seeds(history) == [3, 2]

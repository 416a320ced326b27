"""``benchmarks/ablations.py``: every speed-up is switched off for its frame and back on after,
and the engine renders the same picture afterwards as before."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ablations.py"


@pytest.fixture(scope="module")
def ablations():
    spec = importlib.util.spec_from_file_location("ablations", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ablations"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_each_configuration_is_timed(ablations):
    report = ablations.run("tiny", 128, 2, "cpu", say=lambda _msg: None)
    names = list(report["median_ms"])
    assert names[0] == "engine, everything on"
    expected = {"channels-last off", "prompt cache off", "tiny decoder off (full VAE)"}
    assert expected <= set(names)
    assert ("packed CPU weights off" in names) == report["packed_weights"]
    assert all(len(ms) == 2 and min(ms) > 0 for ms in report["frames_ms"].values())
    assert report["slowdown"][names[0]] == 1.0
    assert "engine, everything on" in ablations.table(report)


def test_switching_off_and_on_leaves_the_engine_as_it_was(ablations, sketch):
    from desktop_app.core.types import RenderRequest
    from desktop_app.engine.loading import load_engine

    engine = load_engine("tiny", device="cpu")
    request = RenderRequest(sketch=sketch, prompt="a boat", seed=5, size=128)
    before = engine.render(request).image
    for ablation in ablations.ABLATIONS:
        if ablation.applies(engine):
            with ablation.setup(engine):
                inside = engine.render(request).image
            assert inside.shape == before.shape, ablation.name
    np.testing.assert_array_equal(engine.render(request).image, before)


def test_bad_arguments_are_refused(ablations, capsys):
    with pytest.raises(SystemExit) as exit_:
        ablations.main(["--size", "100"])
    assert exit_.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("--frames must be at least 1 and --size a multiple of 64")

"""``live-canvas bench --region F``: region frames timed beside full frames, and their ratio."""

from __future__ import annotations

import json

import numpy as np
import pytest

from desktop_app import cli
from desktop_app.bench.region import centred_square


def test_json_report_has_the_region_figures(capsys):
    argv = ["bench", "--model", "tiny", "--size", "512", "--frames", "2", "--warmup", "0"]
    assert cli.main([*argv, "--dtype", "float32", "--no-baseline", "--region", "0.25",
                     "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["region"] == 0.25
    assert report["region_crop"] == report["region_rendered"] == [256, 256]
    assert set(report["frames_ms"]) == {"engine", "region"}
    assert len(report["frames_ms"]["region"]) == 2
    assert report["region_ratio"] == pytest.approx(
        report["region_ms"] / report["engine_ms"], abs=1e-3
    )
    assert report["region_ratio_paired"] > 0
    assert report["region_breakdown"]["denoise_ms"] > 0
    assert report["command"].endswith("--no-baseline --region 0.25")


def test_summary_prints_both_and_their_ratio(capsys):
    argv = ["bench", "--model", "tiny", "--size", "256", "--frames", "1", "--warmup", "0"]
    assert cli.main([*argv, "--dtype", "float32", "--no-baseline", "--region", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "region frames (0.1 of the side, crop 128x128, rendered at 256x256)" in out
    assert "region_ratio" in out and "full frames" in out


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--region", "0"], "region must be between 0.01 and 1"),
        (["--region", "half"], "region"),
        (["--region", "0.25", "--server", "localhost:9"], "leave out --server"),
    ],
)
def test_bad_region_arguments_are_one_line(capsys, extra, message):
    code = cli.main(["bench", *extra])
    err = capsys.readouterr().err.strip()
    assert code not in (0, None) and len(err.splitlines()) == 1 and message in err, err


def test_the_region_is_a_centred_square():
    mask = centred_square(512, 0.25)
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (192, 319, 192, 319)

"""``live-canvas bench --finish`` on the tiny model: the finishing pass's time and peak memory
between two runs of live frames, in the JSON report and the summary; its argument errors."""

from __future__ import annotations

import json

import pytest
from test_bench import main  # noqa: F401 - the fixture

from desktop_app import cli


def test_finish_report(main, capsys):  # noqa: F811
    argv = ["bench", "--model", "tiny", "--size", "128", "--frames", "2", "--warmup", "1",
            "--dtype", "float32", "--finish", "--finish-scale", "1.5", "--finish-runs", "2"]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    finish = report["finish"]
    assert (finish["from"], finish["to"], finish["steps"], finish["strength"]) == (128, 192, 4,
                                                                                    0.4)
    assert finish["steps_run"] == 1 and finish["warmup_runs"] == 0  # a warm-up on GPUs only
    assert len(finish["ms"]) == 2 and finish["median_ms"] > 0
    assert finish["peak_mem_mb"] > 0 and finish["decode_tiled"] is False
    assert len(finish["stages_ms"]) == 2 and finish["stages_ms"][0]["decode_ms"] > 0
    assert len(report["frames_before_ms"]) == len(report["frames_after_ms"]) == 2
    assert report["frame_after_over_before"] > 0
    assert "peak RSS" in report["memory_method"]  # this CPU's
    assert report["command"].endswith("--finish --finish-scale 1.5 --finish-steps 4 "
                                      "--finish-strength 0.4 --finish-runs 2")


def test_finish_summary(main, capsys):  # noqa: F811
    argv = ["bench", "--model", "tiny", "--size", "128", "--frames", "1", "--warmup", "0",
            "--finish"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "finish 128x128 -> 256x256 (x2, 4 steps at 0.4: 1 run, decode whole)" in out
    assert "live frames before finishing: median" in out


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--finish-runs", "2"], "--finish-runs goes with --finish"),
        (["--finish-steps", "2"], "--finish-steps goes with --finish"),
        (["--finish", "--finish-scale", "9"], "finish scale must be between 1 and 4, got 9"),
    ],
)
def test_bad_finish_bench_arguments_are_one_line(main, capsys, extra, message):  # noqa: F811
    code = main(["bench", "--model", "tiny", *extra])
    assert code in (cli.EXIT_ERROR, cli.EXIT_USAGE)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err

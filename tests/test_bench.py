"""``live-canvas bench`` on the tiny model: the JSON report and the argument errors."""

from __future__ import annotations

import json

import pytest

from desktop_app import cli
from desktop_app.commands import bench

FIELDS = (
    "model",
    "device",
    "dtype",
    "size",
    "frames",
    "baseline_ms",
    "engine_ms",
    "ratio",
    "ratio_same_dtype",
    "overhead_ms",
    "breakdown",
    "warmup_ms",
    "peak_mem_mb",
    "mem_growth_mb",
    "machine",
    "date",
    "command",
)


@pytest.fixture
def main(monkeypatch):
    """``cli.main`` with a parser that surely has ``bench`` (whether or not cli.py lists it
    yet), so the test goes through the real error handling and exit codes."""

    def build_parser():
        parser = cli.OneLineParser(prog="live-canvas")
        bench.add_parser(parser.add_subparsers(parser_class=cli.OneLineParser))
        return parser

    monkeypatch.setattr(cli, "build_parser", build_parser)
    return cli.main


def test_json_report(main, capsys):
    argv = ["bench", "--model", "tiny", "--size", "128", "--frames", "2", "--warmup", "1"]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    missing = [name for name in FIELDS if name not in report]
    assert not missing
    assert report["model"] == "tiny" and report["size"] == 128 and report["frames"] == 2
    assert report["ratio"] > 0 and report["engine_ms"] > 0 and report["baseline_ms"] > 0
    # fp32 on both sides here, so the same-dtype comparison is the baseline run itself
    assert report["ratio_same_dtype"] == report["ratio"]
    assert len(report["warmup_ms"]["engine"]) == 1
    assert len(report["frames_ms"]["engine"]) == len(report["frames_ms"]["baseline"]) == 2
    assert set(report["breakdown"]) >= {"preprocess_ms", "text_encode_ms", "denoise_ms"}
    assert 0 < report["forwards_ms"] <= report["engine_ms"]
    assert report["command"].startswith("live-canvas bench --model tiny --size 128")


def test_no_baseline_prints_a_summary(main, capsys):
    argv = ["bench", "--model", "tiny", "--size", "128", "--frames", "1", "--warmup", "0"]
    assert main([*argv, "--no-baseline"]) == 0
    out = capsys.readouterr().out
    assert "engine (float32)" in out and "stock pipeline" not in out


@pytest.mark.parametrize(
    ("flag", "value"), [("--frames", "0"), ("--warmup", "-1"), ("--size", "100")]
)
def test_bad_arguments_are_one_line(main, capsys, flag, value):
    try:  # cli.main returns the usage exit code (older versions let SystemExit through)
        code = main(["bench", "--model", "tiny", flag, value])
    except SystemExit as exit_:
        code = exit_.code
    assert code not in (0, None)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("live-canvas bench: error:")


def test_unknown_model_is_one_line(main, capsys):
    assert main(["bench", "--model", "no-such-model", "--frames", "1"]) == cli.EXIT_ERROR
    # stderr also carries progress lines; the failure itself is one line, the last
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if "error" in line] == err[-1:]
    assert err[-1].startswith("live-canvas: error: unknown model")

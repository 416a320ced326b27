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
    # fp32 on both sides (whatever this CPU would pick), so there is no third run
    assert main([*argv, "--dtype", "float32", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    missing = [name for name in FIELDS if name not in report]
    assert not missing
    assert report["model"] == "tiny" and report["size"] == 128 and report["frames"] == 2
    assert report["ratio"] > 0 and report["engine_ms"] > 0 and report["baseline_ms"] > 0
    assert report["dtype"] == report["baseline_dtype"] == "float32"
    assert report["ratio_same_dtype"] == report["ratio"]
    assert set(report["frames_ms"]) == {"engine", "baseline"}
    assert len(report["warmup_ms"]["engine"]) == 1
    assert len(report["frames_ms"]["engine"]) == len(report["frames_ms"]["baseline"]) == 2
    assert set(report["breakdown"]) >= {"preprocess_ms", "text_encode_ms", "denoise_ms"}
    assert 0 < report["forwards_ms"] <= report["engine_ms"]
    assert report["command"].startswith("live-canvas bench --model tiny --size 128")


def test_engine_in_another_dtype_than_the_baseline(main, capsys):
    """bf16 engine (as on an AMX CPU) against the fp32 baseline: a third run times the stock
    pipeline in bf16, and all three share one set of modules, converted between frames."""
    argv = ["bench", "--model", "tiny", "--size", "128", "--frames", "2", "--warmup", "1"]
    assert main([*argv, "--dtype", "bfloat16", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["dtype"], report["baseline_dtype"]) == ("bfloat16", "float32")
    assert set(report["frames_ms"]) == {"engine", "baseline", "stock_same_dtype"}
    assert all(len(ms) == 2 and min(ms) > 0 for ms in report["frames_ms"].values())
    assert report["ratio_same_dtype"] == round(
        report["engine_ms"] / report["stock_same_dtype_ms"], 4
    )
    assert report["ratio"] == round(report["engine_ms"] / report["baseline_ms"], 4)
    # one conversion to fp32 and one back per frame (warm-up included)
    assert report["dtype_conversions"] == 2 * 3
    # each stock run follows a change, so it settles before each timed frame
    assert report["settle_frames"] >= 2 * 2


def test_shared_modules_come_back_bit_for_bit():
    """bf16 -> fp32 -> bf16 is exact, and so is unpacking the engine's packed weights for a
    stock run and packing them again."""
    import torch

    from desktop_app.bench.tools import SharedModules
    from desktop_app.engine.cpu_weights import pack_if_supported

    model = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.Linear(8, 8))
    model = model.to(torch.bfloat16)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    packing = pack_if_supported([model], torch.device("cpu"), torch.bfloat16)
    shared = SharedModules([model], torch.bfloat16, packing)
    shared.use(torch.float32)
    assert model[1].weight.dtype == torch.float32 and model[1].weight.shape == (8, 8)
    shared.use(torch.float32)  # already there: nothing to do
    shared.use(torch.bfloat16, packed=True)
    assert shared.conversions == 2
    assert packing is None or packing.packed
    if packing is not None:
        packing.unpack()
    after = dict(model.named_parameters())
    assert all(torch.equal(after[name], value) for name, value in before.items())


def test_the_stock_pipeline_runs_plain_layers_the_engine_packed_ones(monkeypatch):
    """Packed CPU weights are the engine's own speed-up: the stock runs get diffusers' layers."""
    import torch

    from desktop_app.bench import benchmark
    from desktop_app.engine.cpu_weights import can_pack
    from desktop_app.engine.renderer import Engine

    packed_during: dict[str, list[bool]] = {}

    def packed(unet) -> bool:
        linears = [m for m in unet.modules() if isinstance(m, torch.nn.Linear)]
        return any("packed_weight" in vars(m) for m in linears)

    original_run, original_render = benchmark._stock_run, Engine.render

    def stock_spy(name, pipe, size, dtype):
        run = original_run(name, pipe, size, dtype)
        inner = run.frame

        def frame(sketch):
            packed_during.setdefault(name, []).append(packed(pipe.unet))
            return inner(sketch)

        run.frame = frame
        return run

    def render_spy(self, *args, **kwargs):
        packed_during.setdefault("engine", []).append(packed(self.parts.unet))
        return original_render(self, *args, **kwargs)

    monkeypatch.setattr(benchmark, "_stock_run", stock_spy)
    monkeypatch.setattr(Engine, "render", render_spy)
    monkeypatch.setenv("LIVE_CANVAS_PACK_WEIGHTS", "1")  # fp32 is packed only when asked
    config = benchmark.BenchConfig(model="tiny", size=128, frames=2, warmup=0, dtype="float32")
    report = benchmark.run_benchmark(config)
    expected = can_pack(torch.device("cpu"), torch.float32)
    assert report["packed_weights"] == expected
    # untimed settling frames after each unpack/pack add calls, never other states
    assert set(packed_during) == {"engine", "baseline"}
    assert set(packed_during["engine"]) == {expected}
    assert set(packed_during["baseline"]) == {False}
    assert len(packed_during["engine"]) >= 2 and len(packed_during["baseline"]) >= 2


def test_no_baseline_prints_a_summary(main, capsys):
    argv = ["bench", "--model", "tiny", "--size", "128", "--frames", "1", "--warmup", "0"]
    assert main([*argv, "--dtype", "float32", "--no-baseline"]) == 0
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

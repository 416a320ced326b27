"""``live-canvas bench``: the engine against the stock diffusers pipeline on the same weights.

The measuring lives in ``desktop_app.bench.benchmark``; this module parses arguments and
prints either a human summary or one JSON object (``--json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys

from desktop_app.commands.arguments import (
    add_backend_arguments,
    add_device_arguments,
    add_server_arguments,
    add_setting_argument,
    ranged,
    server_choice,
)
from desktop_app.commands.finishing import add_finish_arguments
from desktop_app.core.errors import InvalidRequestError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="time the engine against the stock diffusers pipeline",
        description="Time the engine's frames against the stock diffusers ControlNet pipeline "
        "on the same weights and device, alternating frame by frame. Progress goes to stderr.",
    )
    p.add_argument(
        "--model",
        default=None,
        help="preset, model folder, .safetensors, random:sdxl, random:sd21, random:sd15 or tiny "
        "(default tiny)",
    )
    add_setting_argument(p, "size")
    p.add_argument(
        "--frames",
        type=ranged(int, 1, 100_000, "frames"),
        default=10,
        help="timed frames per run (default 10)",
    )
    p.add_argument(
        "--warmup",
        type=ranged(int, 0, 1000, "warmup"),
        default=2,
        help="untimed frames per run first, reported separately (default 2)",
    )
    add_device_arguments(
        p,
        "the engine's dtype (default: as the app picks); the baseline uses the device's "
        "default (fp32 on CPU, fp16 on GPUs)",
    )
    add_backend_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument(
        "--no-baseline", action="store_true", help="time the engine only (no stock pipeline)"
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the engine's models (as the app's --compile); the compile time "
        "shows in the first warm-up frame, the stock pipeline stays uncompiled",
    )
    p.add_argument(
        "--region",
        type=ranged(float, 0.01, 1.0, "region"),
        default=None,
        metavar="F",
        help="also time region frames repainting a centred square of side F x the page's side "
        "(0.01..1), alternating with full frames; prints both and their ratio",
    )
    add_finish_arguments(
        p,
        "time Finish instead of the stock comparison: frames, the finishing pass of the "
        "latest frame (its time and peak memory), then frames again",
    )
    p.add_argument(
        "--finish-runs",
        type=ranged(int, 1, 100, "finish runs"),
        default=None,
        help="with --finish: timed finishes (default 1); on a GPU, --warmup above 0 adds one "
        "untimed finish before them (its first calls at the new size)",
    )
    add_server_arguments(p)
    remote = p.add_argument_group("with --server")
    remote.add_argument(
        "--clients",
        type=client_counts,
        default=(1, 2, 4),
        help="concurrent clients to measure, comma-separated (default 1,2,4)",
    )
    remote.add_argument(
        "--seconds",
        type=ranged(float, 1.0, 3600.0, "seconds"),
        default=10.0,
        help="how long each concurrency level draws (default 10)",
    )
    remote.add_argument(
        "--no-lan", action="store_true", help="skip the frames through a simulated LAN link"
    )
    remote.add_argument(
        "--artists",
        type=ranged(int, 1, 64, "artists"),
        default=None,
        help="instead: a load test of K artists drawing at once (a stroke every --stroke-ms, "
        "latest wins) for --seconds, with the server's batching on and then off",
    )
    remote.add_argument(
        "--stroke-ms",
        type=ranged(float, 0.0, 10000.0, "stroke interval (ms)"),
        default=150.0,
        help="with --artists: time between an artist's strokes (default 150; 0: no pause)",
    )
    p.set_defaults(handler=run)


def client_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        counts = ()
    if not counts or not all(1 <= n <= 64 for n in counts):
        raise argparse.ArgumentTypeError(
            f"clients must be whole numbers from 1 to 64 separated by commas, got {text!r}"
        )
    return counts


def command_line(args: argparse.Namespace) -> str:
    """The run as a command with every setting spelled out, so a result can be reproduced."""
    if args.server and args.artists:
        argv = ["live-canvas", "bench", "--server", args.server, "--size", str(args.size)]
        argv += ["--artists", str(args.artists), "--stroke-ms", f"{args.stroke_ms:g}"]
        argv += ["--seconds", f"{args.seconds:g}"] + (["--json"] if args.json else [])
        return shlex.join(argv)
    if args.server:
        argv = ["live-canvas", "bench", "--server", args.server, "--size", str(args.size)]
        argv += ["--frames", str(args.frames), "--warmup", str(args.warmup)]
        argv += ["--clients", ",".join(map(str, args.clients)), "--seconds", f"{args.seconds:g}"]
        argv += ["--no-lan"] if args.no_lan else []
        argv += ["--json"] if args.json else []
        return shlex.join(argv)
    argv = ["live-canvas", "bench", "--model", args.model or "tiny", "--size", str(args.size)]
    argv += ["--frames", str(args.frames), "--warmup", str(args.warmup)]
    options = (("--device", args.device), ("--dtype", args.dtype), ("--precision", args.precision))
    argv += ["--backend", args.backend] if args.backend != "pytorch" else []
    for flag, value in options:
        if value:
            argv += [flag, value]
    argv += ["--json"] if args.json else []
    argv += ["--no-baseline"] if args.no_baseline else []
    argv += ["--compile"] if args.compile else []
    argv += ["--region", f"{args.region:g}"] if args.region is not None else []
    if args.finish:
        from desktop_app.commands.finishing import finish_values

        scale, steps, strength = finish_values(args)
        argv += ["--finish", "--finish-scale", f"{scale:g}", "--finish-steps", str(steps)]
        argv += ["--finish-strength", f"{strength:g}", "--finish-runs", str(args.finish_runs or 1)]
    return shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    given = {"--model": args.model, "--device": args.device, "--dtype": args.dtype}
    given |= {"--compile": args.compile, "--no-baseline": args.no_baseline}
    if args.server and args.region is not None:
        raise InvalidRequestError(
            "--region times region frames on this computer's engine: leave out --server"
        )
    from desktop_app.commands.finishing import check_finish_options

    check_finish_options(args)
    if args.finish_runs is not None and not args.finish:
        raise InvalidRequestError("--finish-runs goes with --finish")
    if args.finish and args.region is not None:
        raise InvalidRequestError("--finish and --region time different things: give one")
    given |= {"--finish": args.finish}
    given |= {"--backend openvino": args.backend == "openvino", "--precision": args.precision}
    server = server_choice(args.server, args.token_file, given)
    if args.artists and server is None:
        raise InvalidRequestError("--artists goes with --server (a load test of a server)")
    if server is not None:
        return run_remote(args, server)
    if args.finish:
        return run_finish(args)
    from desktop_app.bench.benchmark import BenchConfig, run_benchmark

    config = BenchConfig(
        model=args.model or "tiny",
        size=args.size,
        frames=args.frames,
        warmup=args.warmup,
        device=args.device,
        dtype=args.dtype,
        baseline=not args.no_baseline,
        compile=args.compile,
        region=args.region,
        backend=args.backend,
        precision=args.precision,
    )
    report = run_benchmark(config, progress=lambda msg: print(msg, file=sys.stderr))
    return _print_report(report, args, summary)


def run_finish(args: argparse.Namespace) -> int:
    from desktop_app.bench.finish import FinishBenchConfig, run_finish_benchmark, summary_text
    from desktop_app.commands.finishing import finish_values

    scale, steps, strength = finish_values(args)
    config = FinishBenchConfig(
        model=args.model or "tiny",
        size=args.size,
        frames=args.frames,
        warmup=args.warmup,
        device=args.device,
        dtype=args.dtype,
        compile=args.compile,
        scale=scale,
        steps=steps,
        strength=strength,
        finishes=args.finish_runs or 1,
        finish_warmup=1 if args.warmup > 0 and not _on_cpu(args.device) else 0,
    )
    report = run_finish_benchmark(config, progress=lambda msg: print(msg, file=sys.stderr))
    return _print_report(report, args, summary_text)


def _print_report(report: dict, args: argparse.Namespace, summarise) -> int:
    """A local bench's report with where, when and how it ran: JSON, or ``summarise``'s text."""
    report["machine"] = machine_info(report["device"]) | {"load_average": report["load_average"]}
    report["date"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    report["command"] = command_line(args)
    print(json.dumps(report, indent=2) if args.json else summarise(report))
    return 0


def _on_cpu(device: str | None) -> bool:
    from desktop_app.engine.device import runs_on_cpu

    return runs_on_cpu(device)


def run_remote(args: argparse.Namespace, server: str) -> int:
    if args.artists:
        return run_load(args, server)
    from desktop_app.bench.remote import RemoteBenchConfig, run_remote_bench, summary_text

    config = RemoteBenchConfig(
        server=server,
        token_file=args.token_file,
        ca_file=args.server_ca,
        size=args.size,
        frames=args.frames,
        warmup=args.warmup,
        clients=args.clients,
        seconds=args.seconds,
        lan=not args.no_lan,
    )
    report = run_remote_bench(config, progress=lambda msg: print(msg, file=sys.stderr))
    report["client"] = client_machine()
    report["date"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    report["command"] = command_line(args)
    print(json.dumps(report, indent=2) if args.json else summary_text(report))
    return 0


def run_load(args: argparse.Namespace, server: str) -> int:
    from desktop_app.bench.load import LoadConfig, load_summary, run_load

    config = LoadConfig(
        server=server,
        artists=args.artists,
        seconds=args.seconds,
        stroke_ms=args.stroke_ms,
        size=args.size,
        token_files=(args.token_file,),
        ca_file=args.server_ca,
    )
    report = run_load(config, progress=lambda msg: print(msg, file=sys.stderr))
    report["client"] = client_machine()
    report["date"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    report["command"] = command_line(args)
    print(json.dumps(report, indent=2) if args.json else load_summary(report))
    return 0


def client_machine() -> dict:
    """This side of a remote bench (no torch needed here)."""
    cpu = platform.processor() or platform.machine()
    return {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform()}


def machine_info(device: str) -> dict:
    import diffusers
    import psutil
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def openvino_line(ov: dict) -> str:
    made = f"converted {', '.join(ov['converted_now'])}" if ov["converted_now"] else "cached"
    ratios = f"ratio vs stock {ov['ratio_vs_stock']}, vs engine {ov['ratio_vs_engine']}"
    precision = ov["precision"]
    if ov.get("int8_scope") == "convolutions":
        precision += ", convolutions only"
    return (
        f"  openvino ({precision} on {ov['device']}): median {_ms(ov['ms'])}  {ratios}; "
        f"prepared in {ov['prepare_s']} s ({made}), cache {ov['cache_mb']} MiB"
    )


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def summary(report: dict) -> str:
    b, machine = report["breakdown"], report["machine"]
    hardware = machine.get("gpu", machine["cpu"])
    lines = [
        f"{report['model']} at {report['size']}x{report['size']} on {report['device']} "
        f"({hardware}), "
        f"{report['frames']} frames after {report['warmup']} warm-up, {report['date']}",
        f"  engine ({report['dtype']}{', compiled' if report['compile'] else ''}):       "
        f"median {_ms(report['engine_ms'])}",
    ]
    if report["baseline_ms"] is not None:
        lines.append(
            f"  stock pipeline ({report['baseline_dtype']}): median "
            f"{_ms(report['baseline_ms'])}  ratio engine/stock {report['ratio']:.3f} "
            f"(per frame pair {report['ratio_paired']:.3f})"
        )
        lines.append(
            f"  stock pipeline, engine's dtype: median {_ms(report['stock_same_dtype_ms'])}  "
            f"ratio {report['ratio_same_dtype']:.3f}"
        )
    if report.get("openvino"):
        lines.append(openvino_line(report["openvino"]))
    lines.append(
        f"  engine breakdown (medians): preprocess {_ms(b['preprocess_ms'])}, text "
        f"{_ms(b['text_encode_ms'])}, denoise {_ms(b['denoise_ms'])}, decode "
        f"{_ms(b['decode_ms'])}, convert {_ms(b['convert_ms'])}"
    )
    if report.get("region") is not None:
        lines.append(region_summary(report))
    lines.append(
        f"  model forwards {_ms(report['forwards_ms'])}; overhead outside them "
        f"{_ms(report['overhead_ms'])}"
    )
    lines.append(
        "  warm-up: "
        + "; ".join(
            f"{k} {', '.join(f'{v:.0f}' for v in vs)} ms" for k, vs in report["warmup_ms"].items()
        )
    )
    lines.append(
        "  peak memory MiB: "
        + ", ".join(f"{k} {v:.0f}" for k, v in report["peak_mem_mb"].items())
        + "; growth over the timed frames MiB: "
        + ", ".join(f"{k} {v:+.1f}" for k, v in report["mem_growth_mb"].items())
    )
    lines += [f"  note: {note}" for note in report["notes"]]
    return "\n".join(lines)


def region_summary(report: dict) -> str:
    crop, rendered = report["region_crop"], report["region_rendered"]
    scaled = "" if crop == rendered else f", rendered at {rendered[1]}x{rendered[0]}"
    return (
        f"  region frames ({report['region']:g} of the side, crop {crop[1]}x{crop[0]}{scaled}): "
        f"median {_ms(report['region_ms'])}, full frames {_ms(report['engine_ms'])}, "
        f"region_ratio {report['region_ratio']:.3f} (per frame pair "
        f"{report['region_ratio_paired']:.3f})"
    )

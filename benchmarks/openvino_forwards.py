"""The frame's ControlNet + UNet forwards in OpenVINO against the PyTorch engine's, for models
whose torch and OpenVINO copies do not fit in memory together (random:sdxl on 24 GB).

    .venv/bin/python benchmarks/openvino_forwards.py torch --model random:sdxl --out /tmp/ovf
    .venv/bin/python benchmarks/openvino_forwards.py openvino --out /tmp/ovf --precision int8

``torch`` (one process): loads the model in fp32, times the PyTorch engine's forwards (its
``predict``: ControlNet then UNet, one step at t=999, as a frame runs them) on a circle sketch,
and writes the two models converted to OpenVINO IR (fp32, ``convert.convert_module``) with the
inputs it used. ``openvino`` (another process, no torch weights in memory): compiles the IR
at ``--precision`` fp32, or int8 (NNCF, calibrated on the recorded inputs and three other
noise draws, the scope ``target.int8_scope_for`` picks for this CPU), and times the same
forwards. The decoder is left out: it is the same tiny decoder for every model, timed by
``live-canvas bench``. This is not a frame; it is the part of a frame that grows with the model.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def timed(run, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        out.append(round((time.perf_counter() - start) * 1000, 1))
    return out


def torch_side(args) -> dict:
    from desktop_app.engine.openvino import convert
    from desktop_app.engine.openvino.target import import_openvino

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report, shapes, modules = _time_torch(args, out)
    print(json.dumps(report), flush=True)  # before the conversion, which may run out of memory
    gc.collect()  # the text encoders, the VAE and the engine are gone: SDXL's fp32 fills 24 GB
    ov = import_openvino()
    for part in ("controlnet", "unet"):  # the ControlNet freed once written, before the UNet
        model = convert.convert_module(part, modules.pop(part), shapes)
        ov.save_model(model, str(out / f"{part}.xml"), compress_to_fp16=False)
        del model
        gc.collect()
    return report


def _time_torch(args, out: Path):
    """The PyTorch engine's forwards timed on a frame's own inputs (saved for the other side);
    returns the report, the frame's shapes and the two modules, nothing else kept."""
    import torch

    from desktop_app.core.types import RenderRequest
    from desktop_app.engine.device import Placement
    from desktop_app.engine.loading import load_parts
    from desktop_app.engine.openvino import convert
    from desktop_app.engine.openvino.calibration import sketches
    from desktop_app.engine.renderer import Engine

    parts = load_parts(args.model, torch.float32)
    engine = Engine(parts, Placement(torch.device("cpu"), torch.float32))
    recorded: list = []
    real_predict = engine.predict

    def predict(*inputs):
        recorded.append(inputs)
        return real_predict(*inputs)

    engine.predict = predict  # the frame's own inputs, recorded once
    circle = sketches(args.size)[0]
    engine.render(RenderRequest(sketch=circle, prompt="a lighthouse", size=args.size))
    engine.predict = real_predict
    model_in, t, text, control, added, _scale = recorded[0]
    with torch.no_grad():
        ms = timed(lambda: real_predict(*recorded[0]), args.repeats)
    inputs = {"sample": model_in, "control": control, "embeds": text.embeds}
    if added is not None:
        inputs |= {"pooled": added["text_embeds"], "time_ids": added["time_ids"]}
    np.savez(out / "inputs.npz", t=float(t), **{k: v.float().numpy() for k, v in inputs.items()})
    report = {"model": args.model, "size": args.size, "torch_forwards_ms": ms}
    modules = {"controlnet": parts.controlnet, "unet": parts.unet}
    return report, convert.shapes_of(engine, args.size), modules


def openvino_side(args) -> dict:
    from desktop_app.engine.openvino.target import import_openvino, resolve_target

    ov = import_openvino()
    target = resolve_target(None, args.precision)
    folder = Path(args.out)
    saved = np.load(folder / "inputs.npz")
    t = np.asarray(saved["t"], np.float32)
    front = [saved["sample"], t, saved["embeds"]]
    added = [saved["pooled"], saved["time_ids"]] if "pooled" in saved else []
    cn_inputs = [*front, saved["control"], np.asarray(1.0, np.float32), *added]
    core = ov.Core()
    models = {part: core.read_model(str(folder / f"{part}.xml")) for part in ("controlnet", "unet")}
    if args.precision == "int8":
        models = _quantized(core, models, cn_inputs, front, added, target.int8_scope)
    controlnet = core.compile_model(models["controlnet"], "CPU", target.config)
    unet = core.compile_model(models["unet"], "CPU", target.config)

    def forwards():
        residuals = list(controlnet(cn_inputs).values())
        return unet([*front, *added, *residuals])

    forwards()  # first-call costs
    ms = timed(forwards, args.repeats)
    scope = target.int8_scope if args.precision == "int8" else None
    return {"precision": args.precision, "int8_scope": scope, "openvino_ms": ms}


def _quantized(core, models, cn_inputs, front, added, scope) -> dict:
    """NNCF on the recorded inputs plus three draws of other noise, one part at a time (the
    fp32 ControlNet compiled only while the UNet's residual inputs are made)."""
    from desktop_app.engine.openvino import convert

    rng = np.random.default_rng(0)
    samples = [front[0]] + [rng.standard_normal(front[0].shape).astype(np.float32)
                            for _ in range(3)]
    cn_samples = [[s, *cn_inputs[1:]] for s in samples]
    fp32_cn = core.compile_model(models["controlnet"], "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    unet_samples = [[s, *front[1:], *added, *fp32_cn(c).values()]
                    for s, c in zip(samples, cn_samples, strict=True)]
    del fp32_cn
    return {
        "controlnet": convert.quantize(models["controlnet"], cn_samples, True, scope),
        "unet": convert.quantize(models["unet"], unet_samples, True, scope),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("side", choices=("torch", "openvino"))
    parser.add_argument("--model", default="random:sdxl")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "int8"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", required=True, help="the folder the two sides share")
    args = parser.parse_args(argv)
    report = torch_side(args) if args.side == "torch" else openvino_side(args)
    if args.side == "openvino":
        report["median_ms"] = statistics.median(report["openvino_ms"])
    else:
        report["median_ms"] = statistics.median(report["torch_forwards_ms"])
    print(json.dumps(report))
    with open(Path(args.out) / f"{args.side}-{args.precision}.json", "w") as handle:
        json.dump(report, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())

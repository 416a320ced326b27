"""``live-canvas render SKETCH.png --prompt TEXT --out OUT.png``: one frame, from the shell."""

from __future__ import annotations

import argparse
import sys

from desktop_app.engine.errors import InvalidRequestError
from desktop_app.engine.presets import DEFAULT_PRESET
from desktop_app.engine.types import MAX_SEED, MODES, check_size, check_strength


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be a whole number, got {text!r}") from None
    try:
        return check_size(value)
    except InvalidRequestError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"strength must be a number, got {text!r}") from None
    try:
        return check_strength(value)
    except InvalidRequestError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _ranged(kind, low, high, name):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} must be between {low} and {high}, got {text}")
        return value

    return parse


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model/--device/--controlnet/--preview-decoder, shared by commands that load a model."""
    parser.add_argument(
        "--model",
        default=DEFAULT_PRESET,
        help=f"preset, hub id, model folder or .safetensors (default {DEFAULT_PRESET})",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best)")
    parser.add_argument(
        "--dtype",
        default=None,
        choices=("float32", "float16", "bfloat16"),
        help="default: float16 on GPUs, bfloat16 on CPUs with native support",
    )
    parser.add_argument("--controlnet", default=None, help="ControlNet folder or hub id")
    parser.add_argument(
        "--preview-decoder",
        default=None,
        help="tiny autoencoder: folder, hub id or raw taesd*_decoder.safetensors",
    )


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "render",
        help="render one sketch to a PNG",
        description="Render one sketch to a PNG with its parameters.",
    )
    p.add_argument("sketch", help="sketch image: dark lines on a light background")
    p.add_argument("--prompt", required=True, help="what the picture shows")
    p.add_argument("--out", required=True, help="output PNG path")
    add_model_arguments(p)
    p.add_argument("--seed", type=_ranged(int, 0, MAX_SEED, "seed"), default=0)
    p.add_argument(
        "--control-scale",
        type=_ranged(float, 0.0, 2.0, "control scale"),
        default=1.0,
        help="how closely to follow the sketch, 0..2 (default 1)",
    )
    p.add_argument(
        "--strength",
        type=_strength,
        default=0.6,
        help="colour mode: how far to move from the sketch's colours, (0, 1]",
    )
    p.add_argument("--mode", choices=MODES, default="scribble")
    p.add_argument("--size", type=_size, default=512, help="side in pixels, a multiple of 64")
    p.add_argument("--steps", type=_ranged(int, 1, 4, "steps"), default=1)
    p.add_argument(
        "--full-quality",
        action="store_true",
        help="decode with the full VAE instead of the fast preview decoder",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from desktop_app.engine.loading import load_engine
    from desktop_app.engine.metadata import check_writable, save_png
    from desktop_app.engine.sketch import read_image
    from desktop_app.engine.types import RenderRequest

    # Cheap checks first: a typo in a path should not cost a model load.
    sketch = read_image(args.sketch)
    check_writable(args.out)
    request = RenderRequest(
        sketch=sketch,
        prompt=args.prompt,
        mode=args.mode,
        control_scale=args.control_scale,
        strength=args.strength,
        seed=args.seed,
        steps=args.steps,
        size=args.size,
    )
    engine = load_engine(
        args.model,
        device=args.device,
        dtype=args.dtype,
        controlnet=args.controlnet,
        preview_decoder=args.preview_decoder,
    )
    for warning in engine.info.warnings:
        print(f"live-canvas: warning: {warning}", file=sys.stderr)
    if engine.info.is_noise:
        print(
            f"live-canvas: note: {engine.info.model} has random weights; its output is noise",
            file=sys.stderr,
        )
    result = engine.render(request)
    for warning in result.warnings:
        print(f"live-canvas: warning: {warning}", file=sys.stderr)
    image = engine.export_image(result) if args.full_quality else result.image
    out = save_png(args.out, image, result.params)
    print(
        f"wrote {out} ({request.size}x{request.size}, seed {request.seed}, {engine.info.model} "
        f"on {engine.info.device}) in {result.timings.summary()}"
    )
    return 0

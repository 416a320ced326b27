"""``live-canvas render SKETCH.png --prompt TEXT --out OUT.png``: one frame, from the shell."""

from __future__ import annotations

import argparse
import sys

from desktop_app.commands.arguments import (
    add_lora_arguments,
    add_model_arguments,
    add_server_arguments,
    add_setting_argument,
    check_loras,
    server_choice,
)
from desktop_app.models.presets import DEFAULT_PRESET


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
    add_server_arguments(p)
    add_lora_arguments(p)
    for name in ("seed", "control_scale", "strength", "mode", "size", "steps"):
        add_setting_argument(p, name)
    p.add_argument(
        "--full-quality",
        action="store_true",
        help="decode with the full VAE instead of the fast preview decoder",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from desktop_app.core.metadata import check_writable, save_png
    from desktop_app.core.types import RenderRequest
    from desktop_app.engine.sketch import read_image

    # Cheap checks first: a typo in a path should not cost a model load.
    given = {
        "--model": args.model,
        "--device": args.device,
        "--dtype": args.dtype,
        "--controlnet": args.controlnet,
        "--preview-decoder": args.preview_decoder,
    }
    server = server_choice(args.server, args.token_file, given)
    sketch = read_image(args.sketch)
    check_writable(args.out)
    # On a server the styles are its own, found by name there.
    loras = tuple(args.lora) if server else check_loras(args.lora)
    request = RenderRequest(
        sketch=sketch,
        prompt=args.prompt,
        mode=args.mode,
        control_scale=args.control_scale,
        strength=args.strength,
        seed=args.seed,
        steps=args.steps,
        size=args.size,
        loras=loras,
    )
    engine = _engine(args, server)
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
    where = f"{engine.info.device} at {engine.info.server}" if server else engine.info.device
    remote = f"; round trip {result.remote.summary()}" if result.remote else ""
    print(
        f"wrote {out} ({request.size}x{request.size}, seed {request.seed}, {engine.info.model} "
        f"on {where}) in {result.timings.summary()}{remote}"
    )
    return 0


def _engine(args: argparse.Namespace, server: str | None):
    if server is not None:
        from desktop_app.core.wire import Reply
        from desktop_app.remote.engine import connect

        # A file, not a live preview: the picture comes back lossless.
        return connect(server, args.token_file, args.server_ca, reply=Reply("png"))
    from desktop_app.engine.loading import load_engine

    return load_engine(
        args.model or DEFAULT_PRESET,
        device=args.device,
        dtype=args.dtype,
        controlnet=args.controlnet,
        preview_decoder=args.preview_decoder,
    )

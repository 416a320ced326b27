"""``live-canvas render SKETCH.png --prompt TEXT --out OUT.png``: one frame, from the shell.

With ``--init PICTURE.png`` it is an image-to-image pass instead (``engine/img2img.py``): the
picture refined for ``--steps`` (1..50) at ``--strength``, guided by the sketch, decoded by the
full VAE. The picture must have the sketch's aspect ratio; both are fitted to ``--size`` (a
picture of another size is resized with Lanczos, a sketch as frames resize it).

With ``--finish`` the frame is then finished, and the finished picture written
(``commands/finishing.py``).
"""

from __future__ import annotations

import argparse
import math
import sys

from desktop_app.commands.arguments import (
    add_lora_arguments,
    add_model_arguments,
    add_server_arguments,
    add_setting_argument,
    check_loras,
    server_choice,
    setting_arg,
)
from desktop_app.commands.finishing import add_finish_arguments, finish_frame, finish_request
from desktop_app.commands.region_args import add_region_arguments, region_inputs
from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.settings_table import SETTINGS, Setting
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
    for name in ("seed", "control_scale", "strength", "mode", "size"):
        add_setting_argument(p, name)
    frame_steps, img2img_steps = SETTINGS["steps"], SETTINGS["img2img_steps"]
    # Its range depends on --init, so it is checked once every option is read (``_steps``).
    p.add_argument(
        "--steps",
        type=setting_arg(Setting("steps", int, 1, "steps", low=-math.inf, high=math.inf)),
        default=None,
        help=f"denoising steps: a frame's {_range(frame_steps)} (default "
        f"{frame_steps.default}); with --init the scheduler's {_range(img2img_steps)} (default "
        f"{img2img_steps.default}), of which int(steps × strength) run",
    )
    p.add_argument(
        "--init",
        metavar="PICTURE",
        default=None,
        help="image-to-image: refine this picture (the sketch's aspect ratio; resized to "
        "--size with Lanczos) for --steps at --strength, guided by the sketch",
    )
    p.add_argument(
        "--full-quality",
        action="store_true",
        help="decode with the full VAE instead of the fast preview decoder",
    )
    add_region_arguments(p)
    add_finish_arguments(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from desktop_app.core.metadata import check_writable, save_png
    from desktop_app.core.types import Img2ImgRequest, RenderRequest
    from desktop_app.engine.sketch import read_image

    # Cheap checks first: a typo in a path should not cost a model load.
    given = {
        "--model": args.model,
        "--device": args.device,
        "--dtype": args.dtype,
        "--controlnet": args.controlnet,
        "--preview-decoder": args.preview_decoder,
        "--precision": args.precision,
        "--backend openvino": args.backend == "openvino",
    }
    steps = _steps(args)
    if steps is None:
        return EXIT_USAGE
    server = server_choice(args.server, args.token_file, given)
    _check_init_options(args, server)
    sketch = read_image(args.sketch)
    init = read_image(args.init, what="--init picture") if args.init else None
    region = region_inputs(args, sketch)  # a region frame's keep, region and feather
    finishing = finish_request(args, sketch)
    check_writable(args.out)
    # On a server the styles are its own, found by name there.
    loras = tuple(args.lora) if server else check_loras(args.lora)
    common = dict(
        sketch=sketch,
        prompt=args.prompt,
        control_scale=args.control_scale,
        strength=args.strength,
        seed=args.seed,
        steps=steps,
        size=args.size,
        loras=loras,
    )
    request: Img2ImgRequest | RenderRequest
    if init is not None:
        request = Img2ImgRequest(init=init, **common)
    else:
        request = RenderRequest(mode=args.mode, **common, **region)
    engine = _engine(args, server)
    for warning in engine.info.warnings:
        print(f"live-canvas: warning: {warning}", file=sys.stderr)
    if engine.info.is_noise:
        print(
            f"live-canvas: note: {engine.info.model} has random weights; its output is noise",
            file=sys.stderr,
        )
    if isinstance(request, Img2ImgRequest):
        result = engine.render_img2img(request)  # decoded by the full VAE already
        image = result.image
    else:
        result = engine.render(request)
        image = engine.export_image(result) if args.full_quality else result.image
    for warning in result.warnings:
        print(f"live-canvas: warning: {warning}", file=sys.stderr)
    size, made = request.size, ""
    if finishing is not None:
        frame_ms = result.timings.total_ms
        result = finish_frame(engine, finishing, result, image, loras)
        image, size = result.image, result.image.shape[0]
        made = f", finished from {request.size}x{request.size} ({frame_ms:.0f} ms)"
    out = save_png(args.out, image, result.params)
    where = f"{engine.info.device} at {engine.info.server}" if server else engine.info.device
    remote = f"; round trip {result.remote.summary()}" if result.remote else ""
    print(
        f"wrote {out} ({size}x{size}{made}, seed {request.seed}, {engine.info.model} "
        f"on {where}) in {result.timings.summary()}{remote}"
    )
    return 0


EXIT_USAGE = 2  # as for any other option argparse refuses (cli.OneLineParser)


def _range(setting: Setting) -> str:
    low, high = setting.bounds
    return f"{low:g}..{high:g}"


def _steps(args: argparse.Namespace) -> int | None:
    """--steps checked against the range of what is rendered (a frame's, or with --init an
    image-to-image pass's), or None after saying why in argparse's one line."""
    setting = SETTINGS["img2img_steps" if args.init else "steps"]
    steps = setting.default if args.steps is None else args.steps
    try:
        return setting.check(steps)
    except InvalidRequestError as err:
        print(
            f"live-canvas render: error: argument --steps: {err} "
            "(see live-canvas render --help)",
            file=sys.stderr,
        )
        return None


def _check_init_options(args: argparse.Namespace, server: str | None) -> None:
    """The options that do not go with --init."""
    if not args.init:
        return
    if server is not None:
        raise InvalidRequestError(
            "--init renders on this computer only for now: leave out --server"
        )
    if args.mode == "colour":
        raise InvalidRequestError(
            "--init and --mode colour cannot be combined: --init starts from its picture, "
            "colour mode from the sketch's colours"
        )


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
        backend=args.backend,
        precision=args.precision,
    )

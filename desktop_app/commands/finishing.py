"""``live-canvas render SKETCH ... --finish``: the frame, then Finish (``engine/finish.py``):
the picture upscaled by ``--finish-scale`` (Lanczos), refined for ``--finish-steps`` at
``--finish-strength`` guided by the sketch, decoded by the full VAE. The finished picture is
written, with the first pass's parameters and A1111's ``Hires upscale``, ``Hires steps`` and
``Denoising strength`` in its PNG text.

Every value is checked before a model loads (one line, non-zero exit, nothing written).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from desktop_app.commands.arguments import ranged, setting_arg
from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.settings_table import Setting
from desktop_app.core.types import (
    DEFAULT_FINISH_SCALE,
    DEFAULT_FINISH_STEPS,
    DEFAULT_FINISH_STRENGTH,
    FinishProgress,
    FinishRequest,
    FrameResult,
)

_OPTIONS = ("finish_scale", "finish_steps", "finish_strength")


def add_finish_arguments(parser: argparse.ArgumentParser, finish_help: str = "") -> None:
    group = parser.add_argument_group("Finish (a larger, refined picture)")
    group.add_argument(
        "--finish",
        action="store_true",
        help=finish_help
        or "render the frame, then finish it: upscaled (Lanczos), refined by the model as "
        "image-to-image guided by the sketch, decoded by the full VAE; the finished picture "
        "is written",
    )
    group.add_argument(
        "--finish-scale",
        type=ranged(float, 1.0, 4.0, "finish scale"),
        default=None,
        help=f"how much larger, 1..4 (default {DEFAULT_FINISH_SCALE:g}; the side is rounded "
        "to a multiple of 8)",
    )
    group.add_argument(
        "--finish-steps",
        type=ranged(int, 1, 50, "finish steps"),
        default=None,
        help=f"the refining pass's scheduler steps, 1..50 (default {DEFAULT_FINISH_STEPS}), "
        "of which int(steps × strength) run",
    )
    strength = Setting("finish strength", float, DEFAULT_FINISH_STRENGTH, "finish strength",
                       low=0.0, high=1.0, low_open=True)
    group.add_argument(
        "--finish-strength",
        type=setting_arg(strength),
        default=None,
        help=f"how much the pass may change the picture, in (0, 1] (default "
        f"{DEFAULT_FINISH_STRENGTH:g})",
    )


def finish_values(args: argparse.Namespace) -> tuple[float, int, float]:
    """Scale, steps and strength: as given, else the defaults."""
    return (
        DEFAULT_FINISH_SCALE if args.finish_scale is None else args.finish_scale,
        DEFAULT_FINISH_STEPS if args.finish_steps is None else args.finish_steps,
        DEFAULT_FINISH_STRENGTH if args.finish_strength is None else args.finish_strength,
    )


def check_finish_options(args: argparse.Namespace) -> None:
    """The --finish-* options go with --finish."""
    given = [name for name in _OPTIONS if getattr(args, name) is not None]
    if given and not args.finish:
        raise InvalidRequestError(f"--{given[0].replace('_', '-')} goes with --finish")


def finish_request(args: argparse.Namespace, sketch: np.ndarray) -> FinishRequest | None:
    """The finish ``args`` ask for, checked now with a stand-in picture of the frame's size
    (its pixels come after the frame); None without ``--finish``."""
    check_finish_options(args)
    if not args.finish:
        return None
    if args.init:
        raise InvalidRequestError(
            "--finish and --init cannot be combined: --finish refines the frame it renders "
            "(render the --init picture, then finish that frame's sketch)"
        )
    scale, steps, strength = finish_values(args)
    return FinishRequest(
        picture=np.zeros((args.size, args.size, 3), np.uint8),
        sketch=sketch,
        prompt=args.prompt,
        seed=args.seed,
        control_scale=args.control_scale,
        scale=scale,
        steps=steps,
        strength=strength,
    )


def finish_frame(engine, planned: FinishRequest, frame: FrameResult, picture: np.ndarray,
                 loras: tuple) -> FrameResult:
    """``planned`` for ``picture`` (the frame's), its styles and first pass the frame's; each
    step said on stderr."""
    request = FinishRequest(
        picture=picture,
        sketch=planned.sketch,
        prompt=planned.prompt,
        seed=planned.seed,
        control_scale=planned.control_scale,
        loras=loras,
        scale=planned.scale,
        steps=planned.steps,
        strength=planned.strength,
        first_pass=frame.params,
        request_id=frame.request_id,
    )
    return engine.finish(request, progress=_say)


def _say(progress: FinishProgress) -> None:
    """A line per stage begun and per refining step, with the time left where known."""
    if progress.stage == "refine" and progress.step > 0:
        what = f"refining, step {progress.step}/{progress.steps}"
    elif progress.stage != "refine" and progress.step == 0:
        what = "encoding the picture" if progress.stage == "encode" else "decoding"
    else:
        return
    left = "" if progress.left_s is None else f", about {progress.left_s:.0f} s left"
    print(f"finishing: {what} ({progress.elapsed_s:.1f} s{left})", file=sys.stderr)

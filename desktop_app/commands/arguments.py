"""Argument types and option groups shared by the sub-commands, so that a bad value reads the
same (one line, naming the option's range) wherever it is typed."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from desktop_app.engine.errors import InvalidRequestError
from desktop_app.engine.presets import DEFAULT_PRESET
from desktop_app.engine.types import check_size, check_strength

DTYPES = ("float32", "float16", "bfloat16")


def _checked(kind: type, noun: str, check: Callable) -> Callable[[str], object]:
    """Parse with ``kind``, then let the engine's own ``check`` say what is out of range."""
    article = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{noun} must be {article}, got {text!r}") from None
        try:
            return check(value)
        except InvalidRequestError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def ranged(kind: type, low, high, noun: str) -> Callable[[str], object]:
    def check(value):
        if not low <= value <= high:
            raise InvalidRequestError(f"{noun} must be between {low} and {high}, got {value}")
        return value

    return _checked(kind, noun, check)


size_arg = _checked(int, "size", check_size)
strength_arg = _checked(float, "strength", check_strength)


def add_device_arguments(parser: argparse.ArgumentParser, dtype_help: str) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best)")
    parser.add_argument("--dtype", default=None, choices=DTYPES, help=dtype_help)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --device, --dtype, --controlnet, --preview-decoder: what loads a model."""
    parser.add_argument(
        "--model",
        default=DEFAULT_PRESET,
        help=f"preset, hub id, model folder or .safetensors (default {DEFAULT_PRESET})",
    )
    add_device_arguments(parser, "default: float16 on GPUs, bfloat16 on CPUs with native support")
    parser.add_argument("--controlnet", default=None, help="ControlNet folder or hub id")
    parser.add_argument(
        "--preview-decoder",
        default=None,
        help="tiny autoencoder: folder, hub id or raw taesd*_decoder.safetensors",
    )

"""Argument types and option groups shared by the sub-commands, so that a bad value reads the
same (one line, naming the option's range) wherever it is typed."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from desktop_app.core.errors import InvalidRequestError
from desktop_app.core.settings_table import SETTINGS, Setting
from desktop_app.models.presets import DEFAULT_PRESET

DTYPES = ("float32", "float16", "bfloat16")


def setting_arg(setting: Setting | str) -> Callable[[str], object]:
    """An argument type checked by ``setting``'s rule (a name in the settings table, or a
    one-off ``Setting`` for a number that is not a setting, like a benchmark's frame count)."""
    setting = SETTINGS[setting] if isinstance(setting, str) else setting

    def parse(text: str):
        try:
            return setting.parse_text(text)
        except InvalidRequestError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def ranged(kind: type, low, high, noun: str) -> Callable[[str], object]:
    return setting_arg(Setting(noun, kind, low, noun, low=low, high=high))


def add_setting_argument(parser: argparse.ArgumentParser, name: str, **kwargs) -> None:
    """``--NAME`` with the setting's type, default, choices and help from the table."""
    setting = SETTINGS[name]
    kwargs.setdefault("default", setting.default)
    kwargs.setdefault("help", setting.help or None)
    if setting.choices:
        kwargs.setdefault("choices", setting.choices)
    else:
        kwargs.setdefault("type", setting_arg(setting))
    parser.add_argument(f"--{name.replace('_', '-')}", **kwargs)


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

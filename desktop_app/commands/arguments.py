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


def add_backend_arguments(parser: argparse.ArgumentParser, dest_prefix: str = "") -> None:
    """--backend and --precision: the PyTorch engine, or its forwards in OpenVINO."""
    from desktop_app.engine.openvino.target import BACKENDS, PRECISIONS  # no torch, no openvino

    parser.add_argument(
        "--backend",
        dest=f"{dest_prefix}backend",
        default="pytorch",
        choices=BACKENDS,
        help="pytorch (default), or openvino: the model converted for this CPU or an Intel "
        "GPU/NPU (--device openvino:GPU) on first use, then cached; needs the openvino extra",
    )
    parser.add_argument(
        "--precision",
        dest=f"{dest_prefix}precision",
        default=None,
        choices=PRECISIONS,
        help="with --backend openvino: fp32 (default), bf16 (CPUs with bf16 units), "
        "int8-weights (8-bit weights) or int8 (8-bit weights and activations, calibrated "
        "once on the app's own frames; the convolutions only on CPUs without VNNI or AMX); "
        "what each costs: live-canvas models list",
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --device, --dtype, --controlnet, --preview-decoder: what loads a model."""
    parser.add_argument(
        "--model",
        default=None,
        help=f"preset, hub id, model folder or .safetensors (default {DEFAULT_PRESET})",
    )
    add_device_arguments(parser, "default: float16 on GPUs, bfloat16 on CPUs with native support")
    add_backend_arguments(parser)
    parser.add_argument("--controlnet", default=None, help="ControlNet folder or hub id")
    parser.add_argument(
        "--preview-decoder",
        default=None,
        help="tiny autoencoder: folder, hub id or raw taesd*_decoder.safetensors",
    )


def add_server_arguments(parser: argparse.ArgumentParser, dest_prefix: str = "") -> None:
    """--server, --token-file, --server-ca: frames from ``live-canvas serve`` elsewhere."""
    parser.add_argument(
        "--server",
        dest=f"{dest_prefix}server",
        metavar="URL",
        default=None,
        help="render on a live-canvas server (http://host:8470) instead of this computer",
    )
    parser.add_argument(
        "--token-file",
        dest=f"{dest_prefix}token_file",
        default=None,
        help="the server's token file (needed when the server is on another machine)",
    )
    parser.add_argument(
        "--server-ca",
        dest=f"{dest_prefix}server_ca",
        metavar="FILE",
        default=None,
        help="the server's certificate (PEM), for an https:// server this computer does not trust",
    )


def server_choice(
    server: str | None, token_file: str | None, given: dict[str, object]
) -> str | None:
    """``server:URL`` for ``--server``, after the checks that can be made before connecting;
    ``given`` are the options that choose a local model (none may be set with a server)."""
    from desktop_app.core.tokens import read_token
    from desktop_app.remote.address import server_model

    if server is None:
        if token_file:
            raise InvalidRequestError("--token-file goes with --server")
        return None
    for flag, value in given.items():
        if value:
            raise InvalidRequestError(
                f"{flag} and --server cannot be combined: the server runs its own model "
                "(live-canvas serve --model ...)"
            )
    if token_file:
        read_token(token_file)
    return server_model(server)


def lora_argument(text: str) -> tuple[str, float]:
    from desktop_app.models.styles import parse_lora_argument

    try:
        return parse_lora_argument(text)
    except InvalidRequestError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_lora_arguments(parser: argparse.ArgumentParser, dest: str = "lora", help: str = "") -> None:
    parser.add_argument(
        "--lora",
        dest=dest,
        action="append",
        type=lora_argument,
        default=[],
        metavar="FILE[:WEIGHT]",
        help=help
        or "a LoRA style (a .safetensors file, or a name in the styles folder) fused into the "
        "model, weight -2..2 (default 1); repeat for more",
    )


def check_loras(loras: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    """Every file found, before any model loads (a typo should not cost a load)."""
    from desktop_app.models.styles import resolve_style

    for source, _weight in loras:
        resolve_style(source)
    return tuple(loras)

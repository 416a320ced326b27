"""Placeholder until the app lands: ``live-canvas`` with no command."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", dest="app_model", default=None, help="preset, hub id or path")
    parser.add_argument("--device", dest="app_device", default=None, help="cpu, cuda, mps")


def run(args: argparse.Namespace) -> int:
    print("The Live Canvas window is not built yet; use `live-canvas render --help`.")
    return 0

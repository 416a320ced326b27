"""``live-canvas`` with no command: open the window."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from pathlib import Path

from desktop_app.commands.arguments import (
    add_backend_arguments,
    add_lora_arguments,
    add_server_arguments,
    check_loras,
    ranged,
    server_choice,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--open",
        dest="app_open",
        metavar="FILE",
        default=None,
        help="an export to keep working on (or any picture, as a reference); "
        "live-canvas FILE does the same",
    )
    parser.add_argument(
        "--model",
        dest="app_model",
        default=None,
        help="preset (sdxl-turbo, sdxs, sd-turbo, tiny), hub id or model folder; "
        "default: the last one used",
    )
    parser.add_argument("--device", dest="app_device", default=None, help="cpu, cuda, mps")
    add_backend_arguments(parser, dest_prefix="app_")
    add_server_arguments(parser, dest_prefix="app_")
    add_lora_arguments(parser, dest="app_lora")
    parser.add_argument(
        "--quit-after-first-frame",
        dest="app_quit_after_first_frame",
        action="store_true",
        help="close once the first picture is shown (exit 1 if the model "
        "does not load); for smoke tests",
    )
    parser.add_argument(
        "--quit-after",
        dest="app_quit_after",
        metavar="SECONDS",
        type=ranged(float, 0, 86400, "--quit-after"),
        default=None,
        help="close the window SECONDS after it is shown, as Ctrl+Q would (exit 0); "
        "for smoke tests and start-up timing",
    )
    parser.add_argument(
        "--compile",
        dest="app_compile",
        action="store_true",
        help="optimise the model for this GPU with torch.compile (CUDA); loading takes a "
        "minute or two longer",
    )


def run(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.app.settings import set_application_names
    from desktop_app.core.log import route_uncaught
    from desktop_app.ui.startup import create_window
    from desktop_app.ui.theme import apply_theme, set_desktop_identity

    given = {"--model": args.app_model, "--device": args.app_device}
    given["--backend openvino"] = getattr(args, "app_backend", "pytorch") == "openvino"
    server = server_choice(args.app_server, args.app_token_file, given)
    opened = None
    loras = tuple(args.app_lora) if server else check_loras(args.app_lora)
    if args.app_open is not None:
        from desktop_app.app.drawing_file import open_file

        opened = open_file(args.app_open)  # a bad file is one line, before any window
    set_application_names()
    set_desktop_identity()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    # The window hides at once on close; the app quits when the close has finished (the frame
    # cancelled, an export written, the autosave saved), not when the last window is gone.
    app.setQuitOnLastWindowClosed(False)
    apply_theme(app)
    loader = None
    options = {}
    if getattr(args, "app_compile", False):
        options["compile_models"] = True
    if getattr(args, "app_backend", "pytorch") != "pytorch" or getattr(args, "app_precision", None):
        options |= {"backend": args.app_backend, "precision": args.app_precision}
    if options:
        from desktop_app.app import engine_api  # imports no torch: the worker does, later

        loader = functools.partial(engine_api.load_engine, **options)
    window = create_window(
        model=server or getattr(args, "app_model", None),
        server_files=(args.app_token_file, args.app_server_ca) if server else None,
        device=getattr(args, "app_device", None),
        loader=loader,
        quit_after_first_frame=getattr(args, "app_quit_after_first_frame", False),
    )
    if opened is not None:
        window.imports.apply(opened, Path(args.app_open).name)
    if args.app_lora:
        window.state.loras = loras
    window.closed.connect(lambda _in_time: app.quit())
    window.show()
    window.start()
    quit_after = getattr(args, "app_quit_after", None)
    if quit_after is not None:
        QTimer.singleShot(round(quit_after * 1000), window.close)
    # A failure nobody caught, in a slot or a thread: logged whole, one line in a banner.
    unroute = route_uncaught(window.uncaught.emit)
    try:
        code = app.exec()
    finally:
        unroute()
    exit_code = window.exit_code or code
    if window.background_threads_running():
        # Last resort: a thread that cannot be interrupted (an export being written after
        # "Quit without waiting", a Hub request) would abort the interpreter's exit.
        # Everything the user made is saved, and every file is written atomically.
        logging.getLogger("live_canvas").warning(
            "a background task was still running at exit; leaving without waiting for it"
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exit_code)
    return exit_code

"""``live-canvas --version``: the release, and where the log is (for a bug report)."""

from __future__ import annotations

import argparse

from desktop_app import __version__


def version_text() -> str:
    from desktop_app.app.settings import app_data_dir, set_application_names
    from desktop_app.core.log import log_path

    set_application_names()  # the data folder is named after the app, as in the window
    return f"live-canvas {__version__}\nlog: {log_path(app_data_dir())}"


class VersionAction(argparse.Action):
    def __init__(self, option_strings, dest, help=None):  # noqa: A002 - argparse's name
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(version_text())
        parser.exit()

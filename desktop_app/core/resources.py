"""Where the app's own files are: the theme, the icons, the desktop entry's icon.

The one lookup for them, from a checkout (``resources/`` beside the package) and from a
frozen bundle (PyInstaller unpacks nothing: the data files lie in the bundle's contents
folder, ``sys._MEIPASS``, under the same ``resources/`` name the spec gives them). Nothing
else in the app builds a path from ``__file__``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import desktop_app

# The reverse-DNS id the desktop knows the app by: the .desktop file's and the AppStream
# metainfo's name, and the window's desktop file name (which Wayland sends as its app id).
APP_ID = "io.github.livecanvas.LiveCanvas"


def is_frozen() -> bool:
    """True in the PyInstaller bundle, where there is no Python install to reach for."""
    return bool(getattr(sys, "frozen", False))


def resources_dir() -> Path:
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "resources"
    return Path(desktop_app.__file__).resolve().parent.parent / "resources"


def resource(relative: str) -> Path:
    """``resource("icons/app.svg")``: a file under ``resources/``, wherever the app runs."""
    return resources_dir() / relative

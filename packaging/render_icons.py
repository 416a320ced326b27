"""Renders resources/icons/app.svg into the PNG sizes a Linux desktop (and PyInstaller's .ico
and .icns conversion) wants, under resources/icons/hicolor/ in the freedesktop layout.

The SVG is the one drawing; run this after changing it and commit the PNGs (the bundle build
does not need Qt's SVG renderer to work on a build machine without a display):

    QT_QPA_PLATFORM=offscreen python packaging/render_icons.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_app.core.resources import APP_ID  # noqa: E402

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def main() -> None:
    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 - QPainter needs one
    source = ROOT / "resources" / "icons" / "app.svg"
    renderer = QSvgRenderer(str(source))
    hicolor = ROOT / "resources" / "icons" / "hicolor"
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        out = hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out)):
            raise SystemExit(f"could not write {out}")
    # The scalable icon is app.svg itself: build.sh installs it under its desktop name.
    print(f"wrote {len(SIZES)} PNGs under {hicolor}")


if __name__ == "__main__":
    main()

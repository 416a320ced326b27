"""A selection on the page: the outline a rectangle or lasso tool drew, and the mask of the
pixels inside it (where region frames may change the picture).

A selection is a closed polygon in page pixels (a rectangle is its four corners), the page's
size beside it. Its mask is the polygon filled by QPainter on a QImage, without smoothing, so
the same outline gives the same mask everywhere (the window, an autosave, an export opened
again). An outline that holds no pixel of the page, empty or outside it, is no selection:
``make`` answers None for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPolygonF

MAX_POINTS = 20_000  # a lasso's points kept (a stored selection with more is refused)
MAX_PAGE_SIDE = 8192


@dataclass(frozen=True)
class Selection:
    points: tuple[tuple[float, float], ...]  # the closed outline, in page pixels
    width: int  # the page's
    height: int

    @staticmethod
    def make(
        points: list[tuple[float, float]] | tuple[tuple[float, float], ...],
        width: int,
        height: int,
    ) -> Selection | None:
        """The selection inside ``points`` (rounded to a hundredth of a pixel), or None when
        it holds no pixel of the page."""
        kept = tuple((round(float(x), 2), round(float(y), 2)) for x, y in points[:MAX_POINTS])
        if len(kept) < 3 or width < 1 or height < 1:
            return None
        selection = Selection(kept, int(width), int(height))
        return selection if selection.mask.any() else None

    @staticmethod
    def rectangle(
        corner: tuple[float, float], other: tuple[float, float], width: int, height: int
    ) -> Selection | None:
        (x0, y0), (x1, y1) = corner, other
        return Selection.make([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], width, height)

    @staticmethod
    def whole(width: int, height: int) -> Selection | None:
        return Selection.rectangle((0, 0), (width, height), width, height)

    def path(self) -> QPainterPath:
        path = QPainterPath()
        path.addPolygon(QPolygonF([QPointF(x, y) for x, y in self.points]))
        path.closeSubpath()
        return path

    @cached_property
    def mask(self) -> np.ndarray:
        """True inside the outline: a bool array (height, width), read-only."""
        image = QImage(self.width, self.height, QImage.Format.Format_Grayscale8)
        image.fill(0)
        painter = QPainter(image)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255))
        painter.drawPath(self.path())
        painter.end()
        rows = np.frombuffer(image.constBits(), np.uint8).reshape(
            self.height, image.bytesPerLine()
        )
        mask = rows[:, : self.width] > 127
        mask.flags.writeable = False
        return mask

    def on_page(self, width: int, height: int) -> Selection | None:
        """The same outline on a page of another size (scaled with it)."""
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / self.width, height / self.height
        return Selection.make([(x * sx, y * sy) for x, y in self.points], width, height)

    def to_stored(self) -> dict[str, Any]:
        """As JSON holds it (the autosave, an export's ``live-canvas`` chunk)."""
        return {"points": [list(p) for p in self.points], "page": [self.width, self.height]}

    @staticmethod
    def from_stored(raw: Any, width: int | None = None, height: int | None = None) -> (
        Selection | None
    ):
        """A stored selection (None for none), on a page of ``width`` × ``height`` when
        given; ValueError says in a few words why it is not one."""
        if raw is None:
            return None
        if not isinstance(raw, dict) or not isinstance(raw.get("points"), list):
            raise ValueError("the selection is not an outline")
        page, points = raw.get("page"), raw["points"]
        if not (isinstance(page, list) and len(page) == 2 and all(_side(v) for v in page)):
            raise ValueError("the selection's page size is not one")
        if len(points) > MAX_POINTS or not all(_point(p) for p in points):
            raise ValueError("the selection's outline is not a list of points")
        selection = Selection.make([(p[0], p[1]) for p in points], page[0], page[1])
        if selection is None or width is None or height is None:
            return selection
        return selection.on_page(width, height)


def _side(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PAGE_SIDE


def _point(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and abs(v) < 1e6
            for v in value
        )
    )

"""Region frames in the window: while a selection exists, or the picture is locked, a frame
repaints only part of the picture shown and keeps the rest of it pixel for pixel.

- A selection: every frame's region is the selection (its mask on the page).
- The picture locked (``picture_locked``): the region is what the sketch changed since the
  picture shown was made, the changed pixels' bounding box grown by the context margin
  (``REGION_CONTEXT_PX`` at 512², scaled with the page), within the selection if there is
  one. When nothing changed (a new prompt, Generate), nothing is repainted.
- The picture kept is the one shown now, at the frame's size. Without one (the first frame,
  or a picture whose sketch is no longer known) the frame is a full one.

Region frames are always rendered at the full size (the picture kept is size × size), so
the smaller frames in motion of ``frame_sizes`` are off while ``full_size_only``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from desktop_app.app.selection import Selection
from desktop_app.app.state import LiveState
from desktop_app.core import region

LOCKED_NOTICE = "The picture is locked: only where you draw is repainted (L unlocks it)"


@dataclass(frozen=True, eq=False)
class RegionPlan:
    """A frame's region: ``keep`` and ``region`` as ``RenderRequest`` takes them (both None:
    a full frame), or ``skip``: the picture is locked and nothing it follows changed."""

    keep: np.ndarray | None = None
    region: np.ndarray | None = None
    skip: bool = False


FULL = RegionPlan()
SKIP = RegionPlan(skip=True)


def context_margin(width: int, height: int) -> int:
    """The context margin, in pixels of a page of this size (the engine's crop margin)."""
    return region.context_margin(max(width, height), 1)


def changed_region(lines: np.ndarray, before: np.ndarray, margin: int) -> np.ndarray | None:
    """The bounding box of the pixels that differ, grown by ``margin`` (clipped to the page),
    as a mask; None when no pixel differs."""
    changed = np.any(lines != before, axis=2)
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    if rows.size == 0:
        return None
    height, width = changed.shape
    mask = np.zeros_like(changed)
    top, bottom = max(0, rows[0] - margin), min(height, rows[-1] + 1 + margin)
    left, right = max(0, cols[0] - margin), min(width, cols[-1] + 1 + margin)
    mask[top:bottom, left:right] = True
    return mask


def keep_at(picture: np.ndarray, size: int) -> np.ndarray:
    """The picture shown, at the frame's size (Lanczos, as exports resize)."""
    if picture.shape[:2] == (size, size):
        return picture
    from PIL import Image

    resized = Image.fromarray(np.ascontiguousarray(picture)).resize(
        (size, size), Image.Resampling.LANCZOS
    )
    return np.asarray(resized).copy()


class RegionFrames(QObject):
    """The selection (set by the window's tools and their undo steps) and each frame's
    region."""

    selection_changed = Signal()

    def __init__(self, state: LiveState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._selection: Selection | None = None
        self.last_skipped = False  # the last frame planned was not sent: nothing to repaint

    @property
    def selection(self) -> Selection | None:
        return self._selection

    def set_selection(self, selection: Selection | None) -> None:
        if selection != self._selection:
            self._selection = selection
            self.selection_changed.emit()

    @property
    def full_size_only(self) -> bool:
        """Frames are region frames now or may be: no smaller frames in motion."""
        return self._selection is not None or bool(self.state.picture_locked)

    def plan(
        self,
        lines: np.ndarray,
        size: int,
        shown: np.ndarray | None,
        shown_lines: np.ndarray | None,
    ) -> RegionPlan:
        """The region of a frame of ``lines`` at ``size``, over the picture ``shown`` (made
        from ``shown_lines``, when known)."""
        plan = self._plan(lines, size, shown, shown_lines)
        self.last_skipped = plan.skip
        return plan

    def _plan(
        self,
        lines: np.ndarray,
        size: int,
        shown: np.ndarray | None,
        shown_lines: np.ndarray | None,
    ) -> RegionPlan:
        height, width = lines.shape[:2]
        selection = self._selection.on_page(width, height) if self._selection else None
        mask = selection.mask if selection is not None else None
        known = shown is not None and shown_lines is not None and shown_lines.shape == lines.shape
        if self.state.picture_locked and known:
            assert shown_lines is not None
            changed = changed_region(lines, shown_lines, context_margin(width, height))
            if changed is None:
                return SKIP
            mask = changed if mask is None else changed & mask
            if not mask.any():
                return SKIP  # the change is outside the selection: nothing may change
        if mask is None or shown is None:
            return FULL
        return RegionPlan(keep=keep_at(shown, size), region=mask)

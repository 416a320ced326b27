"""What a frame is drawn from, as plain arrays: the strokes (dark on a white page), and the
reference image under them with its line art and how it is shown.

The model's inputs come from here, the same way the canvas shows them: the lines are the
strokes, darkened by the reference's line art when that is used, and colour mode's starting
colours are the reference (at its opacity, over white) times the strokes. A frame keeps its
drawing, so an export can carry exactly what made the picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desktop_app.app.selection import Selection


@dataclass(frozen=True, eq=False)
class Drawing:
    strokes: np.ndarray  # RGB uint8, the page
    reference: np.ndarray | None = None  # RGB uint8, the same size, fitted on white
    reference_lines: np.ndarray | None = None  # its line art, dark on white
    opacity: float = 0.5
    visible: bool = True
    use_lines: bool = True
    selection: Selection | None = None  # where the frame could change the picture

    @property
    def shown(self) -> bool:
        return self.reference is not None and self.visible

    def lines(self) -> np.ndarray:
        """The lines the model follows."""
        if not (self.shown and self.use_lines) or self.reference_lines is None:
            return self.strokes
        return np.minimum(self.strokes, self.reference_lines)

    def colours(self) -> np.ndarray | None:
        """Colour mode's starting colours, or None without a reference shown (then the
        strokes are the colours, as ever)."""
        if not self.shown or self.reference is None:
            return None
        under = 255.0 - self.opacity * (255.0 - self.reference.astype(np.float32))
        return np.rint(under * self.strokes.astype(np.float32) / 255.0).astype(np.uint8)

"""The sketch canvas: a QImage the size of the generated image, drawn on with mouse or pen.

Strokes are joined line segments with round caps (smooth at any pointer speed); tablet pressure
scales the width. Every stroke, clear or import is one QUndoCommand holding the before/after
pixels of the region it touched, compressed (see canvas_commands). The history is bounded by
count (UNDO_LIMIT) and, through compression, in bytes: ``undo_bytes()`` says how many it holds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QMouseEvent,
    QPainter,
    QPen,
    QPointingDevice,
    QTabletEvent,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import QWidget

from desktop_app.app.drawing import Drawing
from desktop_app.app.imaging import qimage_to_rgb, rgb_to_qimage
from desktop_app.ui.canvas_commands import PatchCommand, ReferenceCommand
from desktop_app.ui.image_view import ImageView
from desktop_app.ui.reference_layer import ReferenceLayer, fit_on_page

UNDO_LIMIT = 200
# Compressed pixels the history may hold. Past it the oldest steps go, down to 3/4 of it (so
# the stack is rebuilt now and then, not after every stroke). 200 full-page strokes of black
# line art on a 512² page take about 17 MB; small strokes take a few kB each.
UNDO_BYTES_LIMIT = 16 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
WHITE = QColor(Qt.GlobalColor.white)


@dataclass
class _Stroke:
    before: QImage
    last: QPointF
    dirty: QRect
    eraser: bool  # the eraser tool, or a pen's eraser end


class SketchCanvas(ImageView):
    content_changed = Signal(bool)  # in_stroke: True while a stroke is being drawn
    stroke_finished = Signal()
    file_dropped = Signal(str)  # path of a file dropped on the canvas
    brush_changed = Signal()
    reference_changed = Signal()  # a reference image was put under the strokes, or removed

    def __init__(self, size: int = 512, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(UNDO_LIMIT)
        self._brush_size = 6
        self._brush_colour = QColor(Qt.GlobalColor.black)
        self._tool = "brush"
        self._stroke: _Stroke | None = None
        self._hover: QPointF | None = None
        self._painted_outline = QRect()  # the brush outline's last painted place
        self._tablet_down = False
        self.reference = ReferenceLayer()
        self._in_macro = False  # an opened file's steps: one undo step, never trimmed apart
        image = QImage(size, size, QImage.Format.Format_RGB32)
        image.fill(WHITE)
        self.set_image(image)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # --- brush -----------------------------------------------------------------------------
    @property
    def tool(self) -> str:
        return self._tool

    @tool.setter
    def tool(self, tool: str) -> None:
        if tool not in ("brush", "eraser"):
            raise ValueError(f"unknown tool {tool!r}")
        self._tool = tool
        self.brush_changed.emit()
        self.update()

    @property
    def brush_size(self) -> int:
        return self._brush_size

    @brush_size.setter
    def brush_size(self, size: int) -> None:
        self._brush_size = max(1, min(200, int(size)))
        self.brush_changed.emit()
        self.update()

    @property
    def brush_colour(self) -> QColor:
        return QColor(self._brush_colour)

    @brush_colour.setter
    def brush_colour(self, colour: QColor) -> None:
        self._brush_colour = QColor(colour)
        self.brush_changed.emit()

    # --- pixels ----------------------------------------------------------------------------
    def to_numpy(self) -> np.ndarray:
        return qimage_to_rgb(self._image)

    def blit(self, top_left: QPoint, patch: QImage) -> None:
        """Replace pixels at ``top_left`` with ``patch`` (used by the undo commands)."""
        painter = QPainter(self._image)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(top_left, patch)
        painter.end()
        self.update()
        self.content_changed.emit(False)

    def _replace_all(self, after: QImage, text: str) -> None:
        # An import can land mid-stroke (line art arrives from the worker): close the stroke
        # first, so each undo step restores exactly what it changed.
        self.end_stroke()
        rect = self._image.rect()
        self._push(PatchCommand(self, rect, self._image.copy(), after, text))

    def _push(self, command: QUndoCommand) -> None:
        self.undo_stack.push(command)
        if self.undo_bytes() > UNDO_BYTES_LIMIT and not self._in_macro:
            self._trim_history(UNDO_BYTES_LIMIT * 3 // 4)

    # --- the reference layer ------------------------------------------------------------------
    def set_reference(
        self,
        image: QImage | np.ndarray,
        text: str = "Reference image",
        lines: np.ndarray | None = None,
    ) -> None:
        """Put ``image`` under the strokes, fitted to the page (undoable); ``lines``, its line
        art when known (else it is made off the UI thread)."""
        self.end_stroke()
        page = fit_on_page(image, (self._image.width(), self._image.height()))
        layer = self.reference
        self._push(ReferenceCommand(self, (layer.image, layer.lines), (page, lines), text))

    def remove_reference(self) -> None:
        layer = self.reference
        if layer.image is not None:
            self.end_stroke()
            before = (layer.image, layer.lines)
            self._push(ReferenceCommand(self, before, (None, None), "Remove reference"))

    def load_reference(self, image: np.ndarray) -> None:
        """The autosaved reference, back under the strokes (not an undoable step)."""
        self.show_reference(fit_on_page(image, (self._image.width(), self._image.height())))

    def show_reference(self, page: QImage | None, lines: np.ndarray | None = None) -> None:
        """Used by the undo commands: this page (or none) under the strokes."""
        self.reference.set_image(page, lines)
        self.update()
        self.reference_changed.emit()
        self.content_changed.emit(False)

    @contextlib.contextmanager
    def one_step(self, text: str) -> Iterator[None]:
        """Everything pushed inside is one undo step (never trimmed apart), and one frame
        for all of it (not one for the strokes without their reference)."""
        self.end_stroke()
        blocked = self.blockSignals(True)
        self._in_macro = True
        self.undo_stack.beginMacro(text)
        try:
            yield
        finally:
            self.undo_stack.endMacro()
            self._in_macro = False
            self.blockSignals(blocked)
        self.reference_changed.emit()
        self.content_changed.emit(False)

    def open_drawing(self, drawing: Drawing, text: str) -> None:
        """Strokes and reference from an opened file (call inside ``one_step``)."""
        self._replace_all(self._page_with(rgb_to_qimage(drawing.strokes), enlarge=False), text)
        if drawing.reference is not None:
            self.set_reference(drawing.reference, text, drawing.reference_lines)
        else:
            self.remove_reference()

    def set_reference_lines(self, lines: np.ndarray, version: int) -> None:
        """The line art of the reference of ``version`` (computed off the UI thread)."""
        if self.reference.set_lines(lines, version) and self.reference.use_lines:
            self.content_changed.emit(False)

    def set_reference_look(self, opacity: float, visible: bool, use_lines: bool) -> None:
        layer = self.reference
        if (layer.opacity, layer.visible, layer.use_lines) == (opacity, visible, use_lines):
            return
        layer.opacity, layer.visible, layer.use_lines = opacity, visible, use_lines
        self.update()
        if layer.image is not None:
            self.content_changed.emit(True)  # a slider drag: frames at the stroke pace

    def drawing(self) -> Drawing:
        """The strokes as they are now, with the reference and how it shows: what a frame
        is made from (its arrays are not touched again: the layer replaces, never edits)."""
        layer = self.reference
        return Drawing(
            strokes=self.to_numpy(),
            reference=layer.rgb(),
            reference_lines=layer.lines,
            opacity=layer.opacity,
            visible=layer.visible,
            use_lines=layer.use_lines,
        )

    def paint_image(self, painter: QPainter, target: QRectF, source: QRectF) -> None:
        if self.reference.shown:
            self.reference.paint(painter, target, source, self._image)
        else:
            super().paint_image(painter, target, source)

    def _trim_history(self, budget: int) -> None:
        """Drop the oldest steps until the rest fit in ``budget`` bytes (the newest always
        stays). QUndoStack cannot drop its bottom command, so the kept commands are pushed
        onto the emptied stack again, sharing their compressed pixels; right after a push
        there is nothing to redo, so the rebuilt stack is the same history, only shorter."""
        stack = self.undo_stack
        kept: list[PatchCommand] = []
        total = 0
        for index in reversed(range(stack.count())):
            command = stack.command(index)
            if not hasattr(command, "applied_copy"):
                break
            if kept and total + command.stored_bytes > budget:
                break
            kept.append(command.applied_copy())
            total += command.stored_bytes
        stack.clear()
        for twin in reversed(kept):
            stack.push(twin)  # applied: redo() leaves the canvas alone

    def clear(self) -> None:
        blank = QImage(self._image.size(), QImage.Format.Format_RGB32)
        blank.fill(WHITE)
        self._replace_all(blank, "Clear")

    def undo_bytes(self) -> int:
        """Bytes of (compressed) pixels the undo history holds."""
        stack = self.undo_stack
        return sum(_stored_bytes(stack.command(i)) for i in range(stack.count()))

    def _page_with(self, image: QImage, enlarge: bool) -> QImage:
        """A white page the canvas's size with ``image`` centred on it, aspect kept: scaled to
        fill the page when ``enlarge``, else at 1:1 unless it has to shrink to fit."""
        target = QImage(self._image.size(), QImage.Format.Format_RGB32)
        target.fill(WHITE)
        fits = image.width() <= target.width() and image.height() <= target.height()
        if enlarge or not fits:
            image = image.scaled(
                target.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        x = (target.width() - image.width()) // 2
        y = (target.height() - image.height()) // 2
        painter = QPainter(target)
        painter.drawImage(QPoint(x, y), image)
        painter.end()
        return target

    def paste_image(self, image: QImage, text: str = "Import image") -> None:
        """Put ``image`` on the canvas (fitted, centred on white) as one undoable step."""
        self._replace_all(self._page_with(image, enlarge=True), text)

    def paste_array(self, array: np.ndarray, text: str = "Import image") -> None:
        self.paste_image(rgb_to_qimage(array), text)

    def load_array(self, array: np.ndarray) -> None:
        """Start from ``array`` (the autosaved sketch): not undoable, clears the history.

        Unlike an import, the sketch is placed at 1:1, centred on a white page, and only
        scaled down (aspect kept) when it is larger than the page: it is never enlarged.
        """
        self.end_stroke()
        self.undo_stack.clear()
        self.blit(QPoint(0, 0), self._page_with(rgb_to_qimage(array), enlarge=False))

    # --- strokes ---------------------------------------------------------------------------
    def _pen(self, pressure: float, eraser: bool) -> QPen:
        colour = WHITE if eraser else self._brush_colour
        width = max(1.0, self._brush_size * max(0.05, min(1.0, pressure)))
        return QPen(
            colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin
        )

    def begin_stroke(
        self, pos: QPointF, pressure: float = 1.0, eraser: bool | None = None
    ) -> None:
        """``eraser``: erase whatever the tool (a pen turned over); None: as the tool says."""
        point = self.to_image_point(pos)
        eraser = self._tool == "eraser" if eraser is None else eraser
        self._stroke = _Stroke(self._image.copy(), point, QRect(), eraser)
        self._segment(point, point, pressure)

    def continue_stroke(self, pos: QPointF, pressure: float = 1.0) -> None:
        if self._stroke is None:
            return
        point = self.to_image_point(pos)
        self._segment(self._stroke.last, point, pressure)
        self._stroke.last = point

    def end_stroke(self) -> None:
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return
        rect = stroke.dirty & self._image.rect()
        if not rect.isEmpty():
            command = PatchCommand(
                self, rect, stroke.before.copy(rect), self._image.copy(rect), "Stroke",
                applied=True,
            )
            self._push(command)
        # The page copy taken at begin_stroke goes now, before anyone reacts to the signals:
        # the command holds only the compressed patches of the rectangle the stroke touched.
        del stroke
        self.content_changed.emit(False)
        self.stroke_finished.emit()

    def _segment(self, start: QPointF, end: QPointF, pressure: float) -> None:
        assert self._stroke is not None
        pen = self._pen(pressure, self._stroke.eraser)
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(pen)
        if start == end:
            painter.drawPoint(end)
        else:
            painter.drawLine(start, end)
        painter.end()
        margin = pen.widthF() / 2 + 2
        area = QRectF(start, end).normalized().adjusted(-margin, -margin, margin, margin)
        self._stroke.dirty |= area.toAlignedRect()
        # Only what changed is painted again: the segment, and the brush outline where it was
        # and where it is (a whole-page repaint per pointer event is what makes strokes lag).
        self.update(self._widget_rect(area) | self._outline_rect())
        self.content_changed.emit(True)

    def _widget_rect(self, area: QRectF) -> QRect:
        """``area`` of the image, in widget pixels (with a pixel to spare for smoothing)."""
        rect = self.image_rect()
        if self._image.isNull() or rect.width() <= 0:
            return self.rect()
        scale = rect.width() / self._image.width()
        mapped = QRectF(
            rect.x() + area.x() * scale,
            rect.y() + area.y() * scale,
            area.width() * scale,
            area.height() * scale,
        )
        return mapped.toAlignedRect().adjusted(-2, -2, 2, 2)

    def _outline_rect(self) -> QRect:
        """Where the brush outline is drawn now, and was last painted, in widget pixels."""
        rect = self._painted_outline
        if self._hover is not None and not self._image.isNull():
            radius = self._brush_size * self.image_rect().width() / self._image.width() / 2 + 2
            now = QRectF(self._hover.x() - radius, self._hover.y() - radius, 2 * radius, 2 * radius)
            rect = rect | now.toAlignedRect()
        return rect

    # --- input events ----------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and not self._tablet_down:
            self.begin_stroke(event.position())
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self._hover = event.position()
        if self._stroke is not None and not self._tablet_down:
            self.continue_stroke(event.position())
        else:
            self.update(self._outline_rect())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and not self._tablet_down:
            self.end_stroke()

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._hover = None
        self.update()

    def tabletEvent(self, event: QTabletEvent) -> None:  # noqa: N802 - Qt override
        kind = event.type()
        pressure = event.pressure()
        if kind == QTabletEvent.Type.TabletPress:
            self._tablet_down = True
            eraser = event.pointerType() == QPointingDevice.PointerType.Eraser
            self.begin_stroke(event.position(), pressure, eraser=eraser or None)
        elif kind == QTabletEvent.Type.TabletMove:
            self._hover = event.position()
            if self._tablet_down:
                self.continue_stroke(event.position(), pressure)
        elif kind == QTabletEvent.Type.TabletRelease:
            self._tablet_down = False
            self.end_stroke()
        event.accept()  # no synthesised mouse events

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if _first_local_file(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        path = _first_local_file(event)
        if path is not None:  # any file: one that is not an image is said so, not ignored
            event.acceptProposedAction()
            self.file_dropped.emit(path)

    def paint_overlay(self, painter: QPainter, rect: QRectF) -> None:
        self._painted_outline = QRect()
        if self._hover is None or self._image.isNull():
            return
        radius = self._brush_size * rect.width() / self._image.width() / 2
        outline = QRectF(self._hover.x() - radius, self._hover.y() - radius, 2 * radius, 2 * radius)
        self._painted_outline = outline.toAlignedRect().adjusted(-2, -2, 2, 2)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(128, 128, 128), 1))
        painter.drawEllipse(self._hover, radius, radius)


def _stored_bytes(command) -> int:
    return getattr(command, "stored_bytes", 0)


def _first_local_file(event: QDragEnterEvent | QDropEvent) -> str | None:
    """The first local file dropped, an image rather than another if there is one."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return None
    files = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
    images = [f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return (images or files or [None])[0]

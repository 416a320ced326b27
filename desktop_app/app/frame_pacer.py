"""Frame pacing, latest wins: turns sketch and setting changes into requests at a pace the
model can follow, and results into what is on screen.

During a stroke (or a slider drag) a frame goes out at most every ~100 ms and never cancels
the one in flight, so the picture keeps up while the hand moves; a settled change (the
stroke's end, a new prompt after typing stops, Generate) may also cancel a frame in flight
that would still take long (the worker decides, see ``SUPERSEDE_MIN_REMAINING_S``). A result
older than the one on screen is dropped. The sketch of each shown result is kept a while, so
an export can save the sketch that made the picture. While a selection exists or the picture
is locked, frames are region frames over the picture shown (``region_frames``).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.app.drawing import Drawing
from desktop_app.app.frame_sizes import FrameSizes
from desktop_app.app.history import History
from desktop_app.app.model_gate import ModelGate
from desktop_app.app.prompt_styles import PromptStyleStore
from desktop_app.app.region_frames import LOCKED_NOTICE, RegionFrames
from desktop_app.app.state import LiveState
from desktop_app.app.worker import RenderWorker
from desktop_app.core.errors import LiveCanvasError
from desktop_app.core.settings_table import FRAME_SETTINGS
from desktop_app.core.types import FrameResult, FrameTimings, GenerationParams, RenderRequest

STROKE_INTERVAL_MS = 100
PROMPT_DEBOUNCE_MS = 150
HISTORY_SETTLE_MS = 700
KEPT_SKETCHES = 40  # sketches of shown results, for exporting one beside its picture
# Settings that shape the frame and move in steps (sliders, spin boxes, combos): throttled
# like a stroke. The prompt is debounced instead; other settings render nothing.
_THROTTLED = (frozenset(FRAME_SETTINGS) - {"prompt"}) | {"prompt_style"}


def single_shot(parent: QObject, interval: int, slot: Callable[[], object]) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(interval)
    timer.timeout.connect(slot)
    return timer


class FramePacer(QObject):
    result_shown = Signal(object)  # FrameResult now on screen
    render_failed = Signal(str)
    notice = Signal(str)  # something to say in passing (Generate with the picture locked)
    stats_changed = Signal(float, float)  # last frame latency (ms), frames per second
    frame_requested = Signal(int)  # request id, handed to the worker

    def __init__(
        self,
        state: LiveState,
        worker: RenderWorker,
        gate: ModelGate,
        history: History,
        history_settle_ms: int = HISTORY_SETTLE_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.worker = worker
        self.gate = gate
        self.history = history
        self.drawing_source: Callable[[], Drawing] | None = None  # what frames are made of
        self.current: FrameResult | None = None
        self._settling: FrameResult | None = None
        # The drawing of each frame asked for, then of each shown (for exports: an export
        # carries exactly what made its picture).
        self._sent_drawings: dict[int, Drawing] = {}
        self._result_drawings: OrderedDict[int, Drawing] = OrderedDict()
        self._next_id = 0
        self.sizes = FrameSizes()  # frame times per size, for frames in motion
        self.styles = PromptStyleStore()  # the window's, with the user's own, replaces it
        self.regions = RegionFrames(state, self)  # the selection, the locked picture
        self._shown_id = -1
        # Paused (while a picture is finished): frames asked for wait, and the latest goes
        # out on resume ("force" if any of them was Generate's).
        self._paused = False
        self._held: bool | None = None
        self._arrivals: deque[float] = deque(maxlen=12)
        # A throttled frame is a stroke's (or a drag's): it never cancels the one in flight.
        self._throttle = single_shot(self, STROKE_INTERVAL_MS, self._request_in_motion)
        self._debounce = single_shot(self, PROMPT_DEBOUNCE_MS, self.request_frame)
        self._settle = single_shot(self, history_settle_ms, self._settle_history)
        worker.result_ready.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        state.prompt_changed.connect(self._on_prompt_changed)
        state.changed.connect(self._on_state_changed)

    def stop(self) -> None:
        for timer in (self._throttle, self._debounce, self._settle):
            timer.stop()

    def pause(self) -> None:
        """Send no frame until ``resume``; changes meanwhile are remembered."""
        self._paused = True

    def resume(self) -> None:
        """Frames again: the drawing as it is now goes out if anything changed meanwhile."""
        self._paused, held, self._held = False, self._held, None
        if held is not None:
            self.request_frame(force=held)

    # --- requests --------------------------------------------------------------------------
    def sketch_changed(self, in_stroke: bool) -> None:
        """The canvas changed; during a stroke frames go out at most every ~100 ms."""
        if not self.state.live:
            return
        if in_stroke:
            if not self._throttle.isActive():
                self._throttle.start()
        else:
            self.request_frame()

    def _on_prompt_changed(self, _prompt: str) -> None:
        if self.state.live:
            self._debounce.start()

    def _on_state_changed(self, name: str) -> None:
        if name == "live" and self.state.live:
            self.request_frame()
        elif name in _THROTTLED and self.state.live and not self._throttle.isActive():
            self._throttle.start()

    @property
    def sketch_source(self) -> Callable[[], np.ndarray] | None:
        """A drawing of strokes alone (tests and tools that have no reference)."""
        source = self.drawing_source
        return None if source is None else lambda: source().strokes

    @sketch_source.setter
    def sketch_source(self, source: Callable[[], np.ndarray] | None) -> None:
        self.drawing_source = None if source is None else lambda: Drawing(source())

    def build_request(self, size: int | None = None) -> tuple[RenderRequest, Drawing] | None:
        """The frame of the drawing and settings as they are now (at ``size``, else the
        size setting's)."""
        if self.drawing_source is None:
            return None
        state = self.state
        drawing = self.drawing_source()
        self._next_id += 1
        style = self.styles.get(state.prompt_style) if state.prompt_style else None
        prompt, loras = state.prompt, tuple(state.loras)
        if style is not None:  # a style deleted meanwhile: the prompt as typed
            prompt, loras = style.prompt(prompt), style.with_loras(loras)
        shown, lines = self.current, drawing.lines()
        size = int(size or state.size)
        plan = self.regions.plan(
            lines, size, shown.image if shown else None, self.sketch_of(shown) if shown else None
        )
        if plan.skip:
            return None
        drawing = replace(drawing, selection=self.regions.selection)
        request = RenderRequest(
            sketch=lines,
            colour=drawing.colours() if state.mode == "colour" else None,
            prompt=prompt,
            mode=state.mode,
            control_scale=float(state.control_scale),
            strength=float(state.strength),
            seed=int(state.seed),
            steps=int(state.steps),
            size=size,
            loras=loras,
            request_id=self._next_id,
            keep=plan.keep,
            region=plan.region,
        )
        return request, drawing

    def _request_in_motion(self) -> None:
        self.request_frame(supersede=False, in_motion=True)

    def request_frame(
        self, force: bool = False, supersede: bool = True, in_motion: bool = False
    ) -> int | None:
        """Send the current inputs to the worker; returns the request id. A frame
        ``in_motion`` (a stroke, a drag) may be smaller on a slow device (``frame_sizes``)."""
        self._throttle.stop()
        self._debounce.stop()
        if self._paused:
            self._held = bool(self._held) or force
            return None
        if not self.gate.can_render:
            return None  # nothing can render: the window works as a sketch tool
        size = int(self.state.size)
        if in_motion and self.state.stroke_previews and not self.regions.full_size_only:
            size = self.sizes.in_motion(size)
        try:
            built = self.build_request(size)
        except LiveCanvasError as err:
            self.render_failed.emit(str(err))
            return None
        if built is None:
            if force and self.regions.last_skipped:
                self.notice.emit(LOCKED_NOTICE)
            return None
        request, drawing = built
        self.worker.submit(request, force=force, supersede=supersede)
        self.frame_requested.emit(request.request_id)
        self._sent_drawings[request.request_id] = drawing
        if len(self._sent_drawings) > KEPT_SKETCHES:  # no result for a while (model failing)
            del self._sent_drawings[min(self._sent_drawings)]
        return request.request_id

    def generate(self) -> int | None:
        """The Generate button: render now, even when the inputs did not change."""
        return self.request_frame(force=True)

    # --- results ---------------------------------------------------------------------------
    def _on_result(self, result: FrameResult) -> None:
        if result.request_id <= self._shown_id:
            return  # older than what is on screen
        self._shown_id = result.request_id
        self._settling = result
        self._keep_drawing(result.request_id)
        self.show_result(result)
        self._arrivals.append(time.monotonic())
        fps = 0.0
        if len(self._arrivals) > 1:
            span = self._arrivals[-1] - self._arrivals[0]
            fps = (len(self._arrivals) - 1) / span if span > 0 else 0.0
        # What the person waited: a served frame's round trip, not only its model time.
        latency = result.remote.total_ms if result.remote else result.timings.total_ms
        self.sizes.record(result.params.size, latency)
        self.stats_changed.emit(float(latency), fps)
        self._settle.start()

    def show_result(self, result: FrameResult) -> None:
        self.current = result
        self.result_shown.emit(result)

    def bring_back(self, result: FrameResult, drawing: Drawing | None) -> None:
        """Show ``result`` again as the picture the next frames keep (an undo with the picture
        locked): a frame in flight is older, and is dropped when it comes."""
        self._shown_id = max(self._shown_id, self._next_id)
        self._settling = None
        if drawing is not None:
            self._result_drawings.pop(result.request_id, None)
            self._result_drawings[result.request_id] = drawing  # the newest kept
        self.show_result(result)

    def adopt(self, image: np.ndarray, params: GenerationParams, drawing: Drawing) -> FrameResult:
        """A picture from elsewhere (a composed export opened again) as the one shown: the
        next region frames keep it. It exports as it is (no latents)."""
        self._next_id += 1
        result = FrameResult(image, params, FrameTimings(), request_id=self._next_id)
        self.bring_back(result, drawing)
        return result

    def _settle_history(self) -> None:
        # The newest rendered frame, even if a thumbnail is on screen meanwhile; a smaller
        # frame of a stroke in progress is not a picture to keep.
        if self._settling is not None and self._settling.params.size == self.state.size:
            self.history.add(self._settling)
            self._settling = None

    def _on_failed(self, request_id: int, message: str) -> None:
        if self.gate.load_error is not None:
            return  # the load failure is already on screen; it explains this one
        if request_id >= self._shown_id:
            self.render_failed.emit(message)

    def _keep_drawing(self, request_id: int) -> None:
        """Move the drawing of a shown result from the in-flight table to the kept ones."""
        for rid in [r for r in self._sent_drawings if r <= request_id]:
            drawing = self._sent_drawings.pop(rid)
            if rid == request_id:
                self._result_drawings[rid] = drawing
        while len(self._result_drawings) > KEPT_SKETCHES:
            self._result_drawings.popitem(last=False)

    def drawing_of(self, result: FrameResult) -> Drawing | None:
        """The drawing that made ``result``, if it is still kept."""
        return self._result_drawings.get(result.request_id)

    def sketch_of(self, result: FrameResult) -> np.ndarray | None:
        """The lines that made ``result`` (what the model followed), if still kept."""
        drawing = self.drawing_of(result)
        return None if drawing is None else drawing.lines()

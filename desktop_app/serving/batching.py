"""Frames of several windows in one forward, without Ray: what a batch collected by Ray
Serve's ``@serve.batch`` (``deployment.py``) becomes.

A batch holds whatever frames arrived together; ``run_batch`` drops those whose window gave
them up while they waited (a newer frame superseded them, or the window closed), splits the
rest by what can share a forward (``engine.batch.batch_key``: size, steps, styles; an export
renders alone), and renders each group in one ``Engine.render_batch`` under the replica's
engine lock. A group whose forward fails fails each of its frames with the same message, and
the next group (and the next batch) renders as usual.

Ray Serve forms a batch from the frames that arrive within its wait of the first one, and
may form the next while one renders. ``SharedForwards`` lets the frames of every batch so
formed that wait for a busy engine go together: whoever gets the engine's turn takes all
that are waiting (up to ``--max-batch``), so frames that arrived while a forward ran share the
next one, however far apart they came (at a CPU's frame times, far more than Ray's wait).

``Company`` decides how long a batch waits for more frames: not at all while one artist draws
alone (the frame would only wait for nobody), ``serve --batch-wait-ms`` once frames of
several windows overlap in the replica.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core.errors import DeviceOutOfMemoryError, LiveCanvasError, RenderCancelled
from desktop_app.core.types import ServerTimings
from desktop_app.core.wire import WireError
from desktop_app.serving.service import AcceptedFrame, FrameProgress, FrameService

MAX_BATCH = 64  # --max-batch's largest
# --max-batch by default (docs/SERVING.md, "Batching"): a GPU runs a frame's forwards far
# below its capacity, so frames of several windows share them; a CPU is busy with one, and a
# batch only made its frames slower there (measured: 4 frames in a batch took 1.1 to 1.3
# times as long as one by one).
DEFAULT_MAX_BATCH_GPU = 4
DEFAULT_MAX_BATCH_CPU = 1
DEFAULT_BATCH_WAIT_MS = 5.0
COMPANY_WINDOW_S = 1.0  # frames overlapped this recently: other artists are drawing
_log = logging.getLogger("live_canvas.serve")

Reply = tuple[dict[str, Any], bytes]


@dataclass
class Waiting:
    """A checked frame waiting for its batch."""

    frame: AcceptedFrame
    cancelled: Callable[[], bool]  # its window gave it up
    received: float  # when its request arrived (``time.perf_counter()``)
    progress: FrameProgress = field(default_factory=FrameProgress)
    queued: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class Outcome:
    """One frame's end: its reply, or the error its client gets."""

    reply: Reply | None = None
    error: Exception | None = None
    batch_size: int = 0  # frames in the forward it ran in (0: it never ran)

    def result(self) -> Reply:
        if self.error is not None:
            raise self.error
        assert self.reply is not None
        return self.reply


def run_batch(service: FrameService, batch: list[Waiting]) -> list[Outcome]:
    """Each frame's outcome, in the batch's order."""
    outcomes: list[Outcome | None] = [None] * len(batch)
    groups: dict[tuple, list[int]] = {}
    for index, waiting in enumerate(batch):
        if waiting.cancelled():
            waiting.progress.stage = "dropped"
            outcomes[index] = Outcome(error=RenderCancelled("the frame was superseded"))
        elif waiting.frame.export:
            groups[("export", index)] = [index]
        else:
            groups.setdefault(_key(waiting.frame), []).append(index)
    for key, indices in groups.items():
        members = [batch[i] for i in indices]
        found = _export(service, members[0]) if key[0] == "export" else _group(service, members)
        for index, outcome in zip(indices, found, strict=True):
            outcomes[index] = outcome
    return [outcome for outcome in outcomes if outcome is not None]


class SharedForwards:
    """The frames of Ray's batches waiting for the engine, rendered together when it frees;
    ``run`` is called from several threads at once, one per batch."""

    def __init__(self, service: FrameService, max_batch: int) -> None:
        self.service, self.max_batch = service, max_batch
        self._lock = threading.Lock()  # guards the two below
        self._waiting: list[Waiting] = []
        self._done: dict[int, Outcome] = {}
        self._turn = threading.Lock()  # one taker at a time

    def run(self, batch: list[Waiting]) -> list[Outcome]:
        """The outcomes of ``batch``, whichever thread rendered its frames."""
        with self._lock:
            self._waiting.extend(batch)
        while True:
            with self._lock:
                if all(id(w) in self._done for w in batch):
                    return [self._done.pop(id(w)) for w in batch]
            with self._turn:
                with self._lock:
                    taken = self._waiting[: self.max_batch]
                    del self._waiting[: self.max_batch]
                if not taken:
                    continue  # another thread rendered ours meanwhile
                outcomes = run_batch(self.service, taken)
                with self._lock:
                    self._done.update(zip(map(id, taken), outcomes, strict=True))


def _key(frame: AcceptedFrame) -> tuple:
    from desktop_app.engine.batch import batch_key

    return batch_key(frame.request)


def _export(service: FrameService, waiting: Waiting) -> list[Outcome]:
    try:
        reply = service.answer(
            waiting.frame, waiting.cancelled, waiting.received, waiting.progress
        )
    except Exception as err:  # noqa: BLE001 - the caller answers it as the single path does
        return [Outcome(error=err)]
    return [Outcome(reply=reply, batch_size=1)]


def _group(service: FrameService, group: list[Waiting]) -> list[Outcome]:
    """One forward for frames of one ``batch_key``."""
    with service._engine_lock:
        started = time.perf_counter()
        live = [w for w in group if not w.cancelled()]  # given up while the lock was held
        for waiting in live:
            waiting.progress.stage = "rendering"
        try:
            results = _render(service, [w.frame.request for w in live], live)
        except Exception as err:  # noqa: BLE001 - each frame hears it, the replica goes on
            return [Outcome(error=_batch_error(err, len(live))) for _ in group]
    outcomes, size = [], len(live)
    found = dict(zip((id(w) for w in live), results, strict=True))
    for waiting in group:
        result = found.get(id(waiting))
        if result is None:
            waiting.progress.stage = "dropped"
            outcomes.append(Outcome(error=RenderCancelled("the frame was superseded")))
            continue
        waiting.progress.stage = "encoding"
        queue_ms = (started - waiting.queued) * 1000.0
        server = ServerTimings(queue_ms=queue_ms, batch_size=size)
        try:
            reply = service.reply(waiting.frame, result, result.image, server, waiting.received)
        except Exception as err:  # noqa: BLE001 - this frame's encode, not the others'
            outcomes.append(Outcome(error=err))
            continue
        outcomes.append(Outcome(reply=reply, batch_size=size))
    return outcomes


def _render(service: FrameService, requests: list, live: list[Waiting]) -> list:
    if not requests:
        return []
    engine = service.engine
    everyone_left = lambda: all(w.cancelled() for w in live)  # noqa: E731
    batched = getattr(engine, "render_batch", None)
    if batched is None or len(requests) == 1:
        return [engine.render(r, everyone_left) for r in requests]
    return batched(requests, everyone_left)


def _batch_error(err: Exception, size: int) -> Exception:
    """What each frame of a failed forward hears: the same line for all of them."""
    if isinstance(err, RenderCancelled | WireError):
        return err
    if isinstance(err, DeviceOutOfMemoryError | LiveCanvasError):
        return WireError(422, str(err))
    _log.exception("a batch of %d frames failed", size)
    return WireError(
        500,
        f"the server failed to render a batch of {size} frame{'s' * (size != 1)}: "
        f"{type(err).__name__}: {err}",
    )


class Company:
    """Whether frames of several windows are in this replica these days: a frame that would
    wait for company waits only when there is some. Used from the event loop only."""

    def __init__(self, window_s: float = COMPANY_WINDOW_S) -> None:
        self.inside = 0  # frames accepted and not yet answered
        self._window_s = window_s
        self._overlapped = float("-inf")  # when two frames were last inside at once

    def enter(self, now: float | None = None) -> None:
        self.inside += 1
        if self.inside > 1:
            self._overlapped = time.monotonic() if now is None else now

    def leave(self) -> None:
        self.inside -= 1

    def wait_s(self, wait_s: float, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        together = self.inside > 1 or now - self._overlapped < self._window_s
        return wait_s if together else 0.0

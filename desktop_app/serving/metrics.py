"""A replica's own figures as Ray Serve custom metrics (``ray.serve.metrics``), beside
Serve's: Ray exports them to Prometheus with the deployment, replica and application tags
added, and its dashboard charts them (docs/SERVING.md, "Metrics").

- ``live_canvas_frame_latency_ms`` (histogram, by artist): a frame's time in the replica,
  from its request to its reply (``handler_ms``);
- ``live_canvas_frames`` (counter, by artist): frames answered with a picture;
- ``live_canvas_batch_size`` (histogram): frames in the forward each frame ran in;
- ``live_canvas_queue_length`` (gauge): frames in the replica, waiting for or in a batch;
- ``live_canvas_frames_dropped`` (counter, by artist): frames given up by their window (a
  newer frame superseded them, or it closed) before their forward ran;
- ``live_canvas_requests_refused`` (counter): requests without a token the server knows.

The artist is the name of the token a frame came with (``serve --tokens-file``), or empty.
"""

from __future__ import annotations

import logging

from ray.serve import metrics

_LATENCY_MS = [5, 10, 20, 35, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000, 10000, 30000]
_BATCH_SIZES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]
_log = logging.getLogger("live_canvas.serve")


class ReplicaMetrics:
    """The metrics of one replica; a metric that cannot be recorded never fails a frame."""

    def __init__(self) -> None:
        artist = ("artist",)
        self._latency = metrics.Histogram(
            "live_canvas_frame_latency_ms",
            "A frame's time in the replica, request to reply (ms)",
            _LATENCY_MS,
            artist,
        )
        self._frames = metrics.Counter(
            "live_canvas_frames", "Frames answered with a picture", artist
        )
        self._batch = metrics.Histogram(
            "live_canvas_batch_size", "Frames in the forward a frame ran in", _BATCH_SIZES
        )
        self._queue = metrics.Gauge(
            "live_canvas_queue_length", "Frames in the replica, waiting for or in a batch"
        )
        self._dropped = metrics.Counter(
            "live_canvas_frames_dropped",
            "Frames given up by their window before their forward ran",
            artist,
        )
        self._refused = metrics.Counter(
            "live_canvas_requests_refused", "Requests without a token the server knows"
        )

    def frame_done(self, artist: str, handler_ms: float, batch_size: int) -> None:
        self._record(self._latency.observe, handler_ms, {"artist": artist})
        self._record(self._frames.inc, 1, {"artist": artist})
        self._record(self._batch.observe, batch_size, {})

    def queue_length(self, frames: int) -> None:
        self._record(self._queue.set, frames, {})

    def dropped(self, artist: str) -> None:
        self._record(self._dropped.inc, 1, {"artist": artist})

    def refused(self) -> None:
        self._record(self._refused.inc, 1, {})

    @staticmethod
    def _record(method, value: float, tags: dict) -> None:
        try:
            method(value, tags=tags)
        except Exception:  # noqa: BLE001 - figures are not worth a frame
            _log.exception("a metric could not be recorded")

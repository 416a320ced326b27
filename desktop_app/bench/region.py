"""``live-canvas bench --region F``: region frames against full frames on the same engine.

A region frame here repaints a centred square of side F × the page's side over a mid-grey
kept picture (what is kept does not change the work), on the same sketch as the full frame
it alternates with; ``region_ratio`` is the median region frame over the median full frame,
``region_ratio_paired`` the median of each back-to-back pair's quotient (docs/REGIONS.md).
"""

from __future__ import annotations

import statistics

import numpy as np

from desktop_app.core.types import DEFAULT_FEATHER_PX, FrameResult, RenderRequest


def centred_square(size: int, fraction: float) -> np.ndarray:
    """A page mask with a centred square of side ``fraction`` × ``size`` (at least a pixel)."""
    side = max(1, round(size * fraction))
    start = (size - side) // 2
    mask = np.zeros((size, size), bool)
    mask[start : start + side, start : start + side] = True
    return mask


class RegionFrames:
    """The region run's frame, and what each of its frames took stage by stage."""

    def __init__(self, engine, size: int, fraction: float, prompt: str):
        self.engine, self.size, self.fraction, self.prompt = engine, size, fraction, prompt
        self.mask = centred_square(size, fraction)
        self.keep = np.full((size, size, 3), 128, np.uint8)
        self.results: list[FrameResult] = []

    def frame(self, sketch: np.ndarray) -> FrameResult:
        request = RenderRequest(
            sketch=sketch, prompt=self.prompt, size=self.size, keep=self.keep, region=self.mask
        )
        result = self.engine.render(request)
        self.results.append(result)
        return result

    def report(self, full_ms: list[float], region_ms: list[float], warmup: int) -> dict:
        """The region figures of the JSON report (``warmup`` frames came first, untimed)."""
        from desktop_app.engine.region import plan

        _mask, crop = plan(self.mask, self.size, DEFAULT_FEATHER_PX, self.engine.info.family)
        full, region = _median(full_ms), _median(region_ms)
        stages: dict[str, list[float]] = {}
        for result in self.results[warmup:]:
            for key, value in vars(result.timings).items():
                stages.setdefault(key, []).append(value)
        pairs = [r / f for r, f in zip(region_ms, full_ms, strict=True) if f]
        return {
            "region": self.fraction,
            "region_crop": [crop.box.height, crop.box.width],
            "region_rendered": list(crop.shape),
            "region_ms": region,
            "region_ratio": round(region / full, 4) if region is not None and full else None,
            "region_ratio_paired": round(statistics.median(pairs), 4) if pairs else None,
            "region_breakdown": {key: _median(values) for key, values in stages.items()},
        }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None

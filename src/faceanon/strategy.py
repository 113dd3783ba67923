"""Detection strategies: which network passes to run over a photo and how to fuse their boxes.

A strategy runs CenterFace at a few scales of the photo, pools every heatmap cell above a low candidate
threshold, fuses overlapping boxes by score-weighted averaging and keeps a fused box when its best score
reaches the acceptance threshold or when several passes agree on it. Upscaled passes find the small faces a
1x pass misses; a downscaled pass finds large, masked or turned faces; agreement between passes lets
low-score faces through without letting in the one-pass texture hits that make false masks.

Cost: each pass costs about (scale^2 x photo pixels) of network input. Passes over more than
``tile_pixels`` of network input run tile by tile (bounded memory), so cost grows linearly with pixels;
whole-image (coarse) passes are shrunk so they never exceed ``coarse_max_pixels``. Figures per operating
point are in the README's Benchmarks section (benchmarks/bench_detect.py measures them).
"""

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from .errors import InvalidRequestError
from .nms import FloatArray

DetectionName = Literal["default", "fast"]
MIN_CANDIDATE = 0.01  # below this nearly every heatmap cell is a candidate


@dataclass(frozen=True)
class Strategy:
    """One operating point. ``scales`` are relative to the photo; the first one is the coarse pass."""

    name: str
    scales: tuple[float, ...]
    threshold: float  # a fused box is kept when its best score reaches this ...
    min_votes: int  # ... or when this many different passes found it (above candidate_threshold) ...
    candidate_threshold: float  # heatmap cells above this take part in fusion
    fusion_iou: float  # boxes overlapping the best remaining box this much are fused into it
    large_threshold: float = 1.0  # ... or when it is at least large_size px tall and scores this much
    large_size: float = 40.0  # (texture false alarms are small; large masked or turned faces score low)
    coarse_max_pixels: int = 4_000_000  # the coarse pass shrinks a bigger photo to this many pixels
    fine_max_pixels: int = 24_000_000  # finer passes shrink their scale to stay under this network input
    tile_pixels: int = 4_194_304  # finer passes bigger than this run in tiles of at most this area
    tile_overlap: int = 128  # network-input pixels shared by neighbouring tiles (faces up to this stay whole)
    # Fine passes only over the crop where the coarse heatmap hints at small or unsure faces (None: everywhere).
    gate_score: float | None = None
    gate_size: float = 40.0  # px: coarse cells predicting faces shorter than this are "small"
    gate_large: tuple[float, float] = (0.05, 0.3)  # score band of unsure large-face peaks that also gate
    gate_margin: int = 128  # fine-scale px added around the gated cells

    def __post_init__(self) -> None:
        if not self.scales or any(not 0.05 <= s <= 4.0 for s in self.scales):
            raise InvalidRequestError("strategy scales must be in [0.05, 4]")
        if not 0.0 < self.candidate_threshold <= self.threshold < 1.0:
            raise InvalidRequestError("strategy needs 0 < candidate_threshold <= threshold < 1")
        if not self.candidate_threshold <= self.large_threshold <= 1.0 or self.large_size < 0:
            raise InvalidRequestError("strategy needs candidate_threshold <= large_threshold <= 1")
        if self.gate_score is not None and not (
            0.0 < self.gate_score < 1.0 and self.gate_size > 0 and self.gate_margin >= 0
        ):
            raise InvalidRequestError("strategy gate needs gate_score in (0, 1), gate_size > 0, gate_margin >= 0")
        if self.min_votes < 1 or not 0.0 < self.fusion_iou < 1.0:
            raise InvalidRequestError("strategy needs min_votes >= 1 and fusion_iou in (0, 1)")

    def with_threshold(self, threshold: float) -> "Strategy":
        """The same strategy at another threshold: its lower (candidate, large-face) thresholds move by as much."""
        if not 0.0 < threshold < 1.0:
            raise InvalidRequestError("threshold must be between 0 and 1")
        shift = threshold - self.threshold
        candidate = min(max(self.candidate_threshold + shift, MIN_CANDIDATE), threshold)
        large = min(max(self.large_threshold + shift, candidate), 1.0)
        return replace(self, threshold=threshold, candidate_threshold=candidate, large_threshold=large)

    def pass_scales(self, height: int, width: int) -> tuple[float, ...]:
        """The scales actually run on an H x W photo (big photos shrink to the pixel caps)."""
        pixels = max(1, height * width)
        coarse_cap = (self.coarse_max_pixels / pixels) ** 0.5
        fine_cap = (self.fine_max_pixels / pixels) ** 0.5
        coarse = min(self.scales[0], coarse_cap)
        fine = tuple(min(s, fine_cap) for s in self.scales[1:])
        # Drop a fine pass a cap has pushed down onto an earlier one: it would only repeat it.
        kept = [coarse]
        for scale in fine:
            if all(abs(scale - k) > 0.1 * k for k in kept):
                kept.append(scale)
        return tuple(kept)


# Picked by a sweep on ../shared/data (int8 model; scales, fusion IoU, thresholds, votes): README "Benchmarks".
STRATEGIES: dict[str, Strategy] = {
    # 1x for large faces plus 1.5x for small ones (3.25x the pixels of one pass).
    "default": Strategy(
        "default",
        scales=(1.0, 1.5),
        threshold=0.25,
        min_votes=2,
        candidate_threshold=0.1,
        fusion_iou=0.6,
        large_threshold=0.1,
        gate_score=0.1,
    ),
    # One 1x pass; votes cannot apply, the large-face rule does.
    "fast": Strategy(
        "fast",
        scales=(1.0,),
        threshold=0.2,
        min_votes=2,
        candidate_threshold=0.1,
        fusion_iou=0.6,
        large_threshold=0.1,
    ),
}


def get_strategy(detection: "str | Strategy") -> Strategy:
    if isinstance(detection, Strategy):
        return detection
    try:
        return STRATEGIES[detection]
    except KeyError:
        raise InvalidRequestError(f"detection must be one of {', '.join(STRATEGIES)}") from None


def fuse(candidates: FloatArray, iou_threshold: float) -> FloatArray:
    """Score-weighted box fusion of candidates [N, 6] (x1, y1, x2, y2, score, pass id).

    Greedy like NMS: the best remaining box gathers every remaining box overlapping it by >= iou_threshold;
    the cluster becomes one box, the score-weighted mean of its members, with the best member's score.
    Returns [M, 6]: x1, y1, x2, y2, score, number of distinct passes in the cluster; best score first.
    """
    if len(candidates) == 0:
        return np.empty((0, 6), dtype=np.float32)
    dets = candidates[np.argsort(-candidates[:, 4], kind="stable")].astype(np.float64)
    x1, y1, x2, y2, scores, passes = dets.T
    areas = (x2 - x1) * (y2 - y1)
    # Boxes that overlap at all have centres closer than half their summed widths: each step only looks at
    # the candidates whose centre x lies in that window (sorted once), so crowds of thousands of candidates
    # cost O(M * window) rather than O(M * N).
    centre_x = (x1 + x2) / 2
    by_x = np.argsort(centre_x, kind="stable")
    sorted_cx = centre_x[by_x]
    half_widest = float((x2 - x1).max()) / 2
    alive = np.ones(len(dets), dtype=bool)
    fused = []
    for best in range(len(dets)):
        if not alive[best]:
            continue
        reach = (x2[best] - x1[best]) / 2 + half_widest
        lo, hi = np.searchsorted(sorted_cx, [centre_x[best] - reach, centre_x[best] + reach], side="right")
        near = by_x[lo:hi]
        near = near[alive[near]]
        w = np.clip(np.minimum(x2[best], x2[near]) - np.maximum(x1[best], x1[near]), 0, None)
        h = np.clip(np.minimum(y2[best], y2[near]) - np.maximum(y1[best], y1[near]), 0, None)
        inter = w * h
        union = areas[best] + areas[near] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        members = np.union1d(near[iou >= iou_threshold], [best])
        alive[members] = False
        weights = scores[members]
        total = weights.sum()
        box = (dets[members, :4] * weights[:, None]).sum(axis=0) / total if total > 0 else dets[best, :4]
        fused.append((*box, scores[best], np.unique(passes[members]).size))
    return np.asarray(fused, dtype=np.float32)


def accept(fused: FloatArray, strategy: Strategy) -> FloatArray:
    """The fused boxes [M, 6] a strategy keeps, as [K, 5] (x1, y1, x2, y2, score)."""
    keep = (fused[:, 4] >= strategy.threshold) | (fused[:, 5] >= strategy.min_votes)
    keep |= (fused[:, 3] - fused[:, 1] >= strategy.large_size) & (fused[:, 4] >= strategy.large_threshold)
    return np.ascontiguousarray(fused[keep, :5])

"""Detection strategies: which network passes to run over a photo and how to fuse their boxes.

A strategy runs CenterFace at a few scales of the photo, pools every heatmap cell above a low candidate
threshold, fuses overlapping boxes by score-weighted averaging and keeps a fused box when its best score
reaches the acceptance threshold or when several passes agree on it. Upscaled passes find the small faces a
1x pass misses; downscaled (and mirrored) passes find large, masked or turned faces; agreement between passes lets
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
    # Whole-image passes shrunk by these factors (relative to the coarse pass), and mirrored copies of them when
    # large_flip: masked, turned and printed faces the coarse pass scores too low often score higher there. They
    # only add boxes at least large_size px tall (as the coarse pass sees them), count as it in votes, and only
    # run when the coarse pass runs at full scale (photos up to coarse_max_pixels).
    large_scales: tuple[float, ...] = ()
    large_flip: bool = False

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
        if any(not 0.1 <= s < 1.0 for s in self.large_scales):
            raise InvalidRequestError("strategy large_scales must be in [0.1, 1)")
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
    # 1x, plus 1.5x where the 1x heatmap hints at small faces, plus 0.5x and its mirror image for large faces
    # (at most 3.75x the pixels of one pass).
    "default": Strategy(
        "default",
        scales=(1.0, 1.5),
        threshold=0.25,
        min_votes=2,
        candidate_threshold=0.1,
        fusion_iou=0.6,
        large_threshold=0.13,  # 0.1 put 0.65 false masks on each of scikit-image's 23 face-free photos
        gate_score=0.1,
        large_scales=(0.5,),
        large_flip=True,
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
    boxes = dets[:, :4]
    areas = (x2 - x1) * (y2 - y1)
    # IoU >= t needs an x-overlap of at least t * w_j, so w_j <= w_i / t and the centres lie within
    # w_i * (1 + 1/t) / 2 of each other: each step only looks at the candidates whose centre x lies in that
    # window (sorted once, every window found in one searchsorted), so crowds of thousands of candidates cost
    # O(M * window) rather than O(M * N), however large the largest box. The tiny slack absorbs rounding.
    centre_x = (x1 + x2) / 2
    by_x = np.argsort(centre_x, kind="stable")
    sorted_cx = centre_x[by_x]
    reach = np.maximum(x2 - x1, 0) * (1 + 1 / iou_threshold) / 2 * (1 + 1e-9) + 1e-9
    window_lo = np.searchsorted(sorted_cx, centre_x - reach, side="left")
    window_hi = np.searchsorted(sorted_cx, centre_x + reach, side="right")
    pass_bits = np.left_shift(1, passes.astype(np.int64))
    alive = np.ones(len(dets), dtype=bool)
    fused = np.empty((len(dets), 6), dtype=np.float64)
    count = 0
    for best in range(len(dets)):
        if not alive[best]:
            continue
        near = by_x[window_lo[best] : window_hi[best]]
        near = near[alive[near]]
        if near.size > 1:
            near_boxes = boxes[near]
            width = np.minimum(x2[best], near_boxes[:, 2]) - np.maximum(x1[best], near_boxes[:, 0])
            height = np.minimum(y2[best], near_boxes[:, 3]) - np.maximum(y1[best], near_boxes[:, 1])
            inter = np.maximum(width, 0) * np.maximum(height, 0)
            union = areas[best] + areas[near] - inter
            members = near[(inter >= iou_threshold * union) & (union > 0)]
        else:  # alone in its window: a cluster of one (most weak cells are)
            members = near
        if best not in members:  # a degenerate (zero-area) best box still forms its own cluster
            members = np.append(members, best)
        alive[members] = False
        fused[count, 4] = scores[best]
        if members.size == 1:
            fused[count, :4] = boxes[best]
            fused[count, 5] = 1
        else:
            weights = scores[members]
            total = weights.sum()
            fused[count, :4] = weights @ boxes[members] / total if total > 0 else boxes[best]
            fused[count, 5] = int(np.bitwise_or.reduce(pass_bits[members])).bit_count()
        count += 1
    return fused[:count].astype(np.float32)


def accept(fused: FloatArray, strategy: Strategy, *, coarse: float = 1.0) -> FloatArray:
    """The fused boxes [M, 6] a strategy keeps, as [K, 5] (x1, y1, x2, y2, score).

    coarse is the scale the coarse pass ran at: "large" means large_size px as that pass saw the face, since
    what makes texture false alarms small is the network's view, not the photo's pixel count.
    """
    keep = (fused[:, 4] >= strategy.threshold) | (fused[:, 5] >= strategy.min_votes)
    large = fused[:, 3] - fused[:, 1] >= strategy.large_size / coarse
    keep |= large & (fused[:, 4] >= strategy.large_threshold)
    return np.ascontiguousarray(fused[keep, :5])

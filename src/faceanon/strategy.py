"""Detection strategies: which network passes to run over a photo, and when a face is kept.

A strategy runs CenterFace at a few scales of the photo, pools every heatmap cell above a low candidate
threshold, groups the candidates of all passes that belong to one face into one box (faceanon.grouping) and
keeps a face when its best score reaches the threshold. Upscaled passes find the small faces a 1x pass misses;
downscaled (and mirrored) passes find large, masked or turned faces that the 1x pass scores too low.

Cost: each pass costs about (scale^2 x photo pixels) of network input. Passes over more than
``tile_pixels`` of network input run tile by tile (bounded memory), so cost grows linearly with pixels;
whole-image (coarse) passes are shrunk so they never exceed ``coarse_max_pixels``. Figures per operating
point are in BENCHMARKS.md (benchmarks/bench_detect.py measures them).
"""

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from .errors import InvalidRequestError
from .grouping import DEFAULT_GROUPING, Grouping
from .nms import FloatArray

DetectionName = Literal["default", "fast", "thorough"]
MIN_CANDIDATE = 0.01  # below this nearly every heatmap cell is a candidate


@dataclass(frozen=True)
class Strategy:
    """One operating point. ``scales`` are relative to the photo; the first one is the coarse pass."""

    name: str
    scales: tuple[float, ...]
    threshold: float  # a face is kept when its best candidate scores this much
    candidate_threshold: float  # heatmap cells above this take part in grouping
    large_size: float = 40.0  # px at the coarse scale: the large-face passes only add boxes this tall or taller
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
    # only add boxes at least large_size px tall (as the coarse pass sees them), and only run when the coarse pass
    # runs at full scale (photos up to coarse_max_pixels).
    large_scales: tuple[float, ...] = ()
    large_flip: bool = False
    grouping: Grouping = DEFAULT_GROUPING  # how the candidates of all passes become one box per face

    def __post_init__(self) -> None:
        if not self.scales or any(not 0.05 <= s <= 4.0 for s in self.scales):
            raise InvalidRequestError("strategy scales must be in [0.05, 4]")
        if not 0.0 < self.candidate_threshold <= self.threshold < 1.0:
            raise InvalidRequestError("strategy needs 0 < candidate_threshold <= threshold < 1")
        if self.large_size < 0:
            raise InvalidRequestError("strategy needs large_size >= 0")
        if self.gate_score is not None and not (
            0.0 < self.gate_score < 1.0 and self.gate_size > 0 and self.gate_margin >= 0
        ):
            raise InvalidRequestError("strategy gate needs gate_score in (0, 1), gate_size > 0, gate_margin >= 0")
        if any(not 0.1 <= s < 1.0 for s in self.large_scales):
            raise InvalidRequestError("strategy large_scales must be in [0.1, 1)")

    def with_threshold(self, threshold: float) -> "Strategy":
        """The same strategy at another threshold: its candidate threshold moves by as much (never above it)."""
        if not 0.0 < threshold < 1.0:
            raise InvalidRequestError("threshold must be between 0 and 1")
        shift = threshold - self.threshold
        candidate = min(max(self.candidate_threshold + shift, MIN_CANDIDATE), threshold)
        return replace(self, threshold=threshold, candidate_threshold=candidate)

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


# Picked on the dev half of ../shared/data (one-to-one matching; BENCHMARKS.md has the sweep and its command).
# 1x, plus 1.5x where the 1x heatmap hints at small faces, plus 0.5x and its mirror image for large faces (at most
# 3.75x the pixels of one pass).
_DEFAULT = Strategy(
    "default",
    scales=(1.0, 1.5),
    threshold=0.25,
    candidate_threshold=0.1,
    gate_score=0.1,
    large_scales=(0.5,),
    large_flip=True,
)
STRATEGIES: dict[str, Strategy] = {
    "default": _DEFAULT,
    # One 1x pass.
    "fast": Strategy("fast", scales=(1.0,), threshold=0.2, candidate_threshold=0.1),
    # The default with its fine pass at 2x (at most 5.5x the pixels of one pass): more small faces, but slower than
    # deface on crowd photos (BENCHMARKS.md, frontier), so not the default.
    "thorough": replace(_DEFAULT, name="thorough", scales=(1.0, 2.0)),
}


def get_strategy(detection: "str | Strategy") -> Strategy:
    if isinstance(detection, Strategy):
        return detection
    try:
        return STRATEGIES[detection]
    except KeyError:
        raise InvalidRequestError(f"detection must be one of {', '.join(STRATEGIES)}") from None


def accept(faces: FloatArray, strategy: Strategy) -> FloatArray:
    """The grouped faces [M, 6] a strategy keeps, as [K, 5] (x1, y1, x2, y2, score)."""
    return np.ascontiguousarray(faces[faces[:, 4] >= strategy.threshold, :5])

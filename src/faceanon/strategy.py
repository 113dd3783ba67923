"""Detection strategies: which network passes to run over a photo, and when a face is kept.

A strategy runs CenterFace at a few scales of the photo, pools every heatmap cell above a low candidate
threshold, groups the candidates of all passes that belong to one face into one box (faceanon.grouping) and
keeps a face when its best score reaches the threshold. Upscaled passes find the small faces a 1x pass misses;
downscaled (and mirrored) passes find large, masked or turned faces that the 1x pass scores too low.

Cost: each pass costs about (scale^2 x photo pixels) of network input. Passes over more than
``Budget.tile_pixels`` of network input run tile by tile (bounded memory), so cost grows linearly with pixels;
whole-image (coarse) passes are shrunk so they never exceed ``Budget.coarse_pixels``.

A strategy's option groups are small frozen types: ``Gate`` (where the fine passes run), ``LargeFaces`` (the
downscaled and mirrored passes), ``Verify`` (the RetinaFace second opinion on unsure faces), ``Budget`` (pixel
caps and tiles) and ``Grouping`` (faceanon.grouping). A face CenterFace is unsure of is kept only when
RetinaFace confirms it (``Verify``; default and thorough): on face-free photos CenterFace's false faces are
mostly such faces.

Figures per operating point are in BENCHMARKS.md (benchmarks/bench_detect.py measures them).
"""

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from .errors import InvalidRequestError
from .grouping import DEFAULT_GROUPING, Grouping
from .nms import FloatArray

DetectionName = Literal["default", "fast", "thorough"]
MIN_CANDIDATE = 0.01  # below this nearly every heatmap cell is a candidate


@dataclass(frozen=True)
class Gate:
    """Fine passes only over the crop where the coarse heatmap hints at small or unsure faces."""

    score: float = 0.1  # coarse cells scoring above this ...
    size: float = 40.0  # ... and predicting faces shorter than this (px in the photo) are "small"
    large: tuple[float, float] = (0.05, 0.3)  # score band of unsure large-face peaks that also gate
    margin: int = 128  # fine-scale px added around the gated cells

    def __post_init__(self) -> None:
        if not (0.0 < self.score < 1.0 and self.size > 0 and self.margin >= 0):
            raise InvalidRequestError("strategy gate needs score in (0, 1), size > 0, margin >= 0")
        if not 0.0 <= self.large[0] <= self.large[1] <= 1.0:
            raise InvalidRequestError("strategy gate needs 0 <= large[0] <= large[1] <= 1")


@dataclass(frozen=True)
class LargeFaces:
    """Whole-image passes shrunk by ``scales`` (relative to the coarse pass), and mirrored copies of them when
    ``flip``: masked, turned and printed faces the coarse pass scores too low often score higher there. They only
    add boxes at least ``size`` px tall (as the coarse pass sees them), and only run when the coarse pass runs at
    full scale (photos up to Budget.coarse_pixels)."""

    scales: tuple[float, ...] = (0.5,)
    flip: bool = True
    size: float = 40.0

    def __post_init__(self) -> None:
        if not self.scales or any(not 0.1 <= s < 1.0 for s in self.scales):
            raise InvalidRequestError("strategy large-face scales must be in [0.1, 1) (no large passes: None)")
        if self.size < 0:
            raise InvalidRequestError("strategy large-face size must be >= 0")


@dataclass(frozen=True)
class Verify:
    """A second opinion on unsure faces (faceanon.retinaface): a face at least ``size`` px tall that CenterFace
    scores under ``sure`` is kept only if RetinaFace, shown a crop ``context`` times the face's side with the
    face ``face_px`` tall, gives an overlapping box at least ``score``. CenterFace's false faces on face-free
    photos are nearly all such boxes; real faces that size nearly always get a RetinaFace score above 0.02."""

    size: float = 20.0
    sure: float = 0.7
    score: float = 0.02
    context: float = 2.0
    face_px: int = 64

    def __post_init__(self) -> None:
        if self.size < 0 or not 0.0 < self.sure <= 1.0 or not 0.0 < self.score < 1.0:
            raise InvalidRequestError("strategy verify needs size >= 0, sure in (0, 1], score in (0, 1)")
        if self.context < 1.0 or not 16 <= self.face_px <= 256:
            raise InvalidRequestError("strategy verify needs context >= 1 and face_px in [16, 256]")


@dataclass(frozen=True)
class Budget:
    """How much network input the passes may take."""

    coarse_pixels: int = 4_000_000  # the coarse pass shrinks a bigger photo to this many pixels
    fine_pixels: int = 24_000_000  # finer passes shrink their scale to stay under this network input
    tile_pixels: int = 4_194_304  # finer passes bigger than this run in tiles of at most this area
    tile_overlap: int = 128  # network-input pixels shared by neighbouring tiles (faces up to this stay whole)

    def __post_init__(self) -> None:
        if min(self.coarse_pixels, self.fine_pixels) <= 0 or self.tile_overlap < 0:
            raise InvalidRequestError("strategy budget needs positive pixel caps and tile_overlap >= 0")
        if self.tile_pixels < 4 * max(self.tile_overlap, 32) ** 2:
            raise InvalidRequestError("strategy budget needs tiles at least twice tile_overlap (and 32 px) wide")


@dataclass(frozen=True)
class Strategy:
    """One operating point. ``scales`` are relative to the photo; the first one is the coarse pass."""

    name: str
    scales: tuple[float, ...]
    threshold: float  # a face is kept when its best candidate scores this much
    candidate_threshold: float  # heatmap cells above this take part in grouping
    gate: Gate | None = None  # None: fine passes over the whole photo
    large: LargeFaces | None = None  # None: no large-face passes
    verify: Verify | None = None  # None: every grouped face at the threshold is kept
    budget: Budget = Budget()
    grouping: Grouping = DEFAULT_GROUPING  # how the candidates of all passes become one box per face

    def __post_init__(self) -> None:
        if not self.scales or any(not 0.05 <= s <= 4.0 for s in self.scales):
            raise InvalidRequestError("strategy scales must be in [0.05, 4]")
        if not 0.0 < self.candidate_threshold <= self.threshold < 1.0:
            raise InvalidRequestError("strategy needs 0 < candidate_threshold <= threshold < 1")

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
        coarse_cap = (self.budget.coarse_pixels / pixels) ** 0.5
        fine_cap = (self.budget.fine_pixels / pixels) ** 0.5
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
    gate=Gate(score=0.1),
    large=LargeFaces(scales=(0.5,), flip=True),
    verify=Verify(),
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
    """The grouped faces [M, 6] a strategy keeps at its threshold, as [K, 5] (x1, y1, x2, y2, score)."""
    return np.ascontiguousarray(faces[faces[:, 4] >= strategy.threshold, :5])


def needs_verifying(faces: FloatArray, verify: Verify) -> npt.NDArray[np.bool_]:
    """[K] which accepted faces [K, 5] the verifier must confirm: tall enough and not sure enough."""
    return ((faces[:, 3] - faces[:, 1]) >= verify.size) & (faces[:, 4] < verify.sure)

"""Scoring detections against human-made face boxes.

Matching is one-to-one, as in the WIDER FACE protocol: detections are taken in order of score (highest first)
and each takes the unmatched labelled face it overlaps most with IoU >= 0.5. A second box on a face that is
already taken is a *duplicate* (a false positive), not a second find. Boxes marked ``ignore`` neither count as
misses nor make detections false: a detection whose best overlap is an ignore box is left out of every count
but the raw number of boxes. Recall is reported per face-height bin; average precision is WIDER's (VOC-style
area under the interpolated precision-recall curve over score thresholds), over all non-ignored faces.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from faceanon.nms import iou_matrix

from .datasets import LabelledImage

HEIGHT_BINS: tuple[tuple[str, float, float], ...] = (
    ("<10", 0.0, 10.0),
    ("10-20", 10.0, 20.0),
    ("20-40", 20.0, 40.0),
    ("40-80", 40.0, 80.0),
    (">=80", 80.0, float("inf")),
)
MATCH_IOU = 0.5


def height_bin(height: float) -> str:
    for name, low, high in HEIGHT_BINS:
        if low <= height < high:
            return name
    return HEIGHT_BINS[-1][0]


class Kind(IntEnum):
    """What one detection on a labelled photo is, under one-to-one matching."""

    TRUE = 0  # took an unmatched labelled face (IoU >= MATCH_IOU)
    DUPLICATE = 1  # IoU >= MATCH_IOU only with faces already taken by higher-scored detections
    FALSE = 2  # no labelled face (nor ignore box) with IoU >= MATCH_IOU
    IGNORED = 3  # best overlap (>= MATCH_IOU) is an ignore box: neither true nor false


@dataclass(frozen=True)
class Matching:
    """One-to-one matching of one photo's detections to its labelled faces."""

    face_matched: npt.NDArray[np.bool_]  # [F] per labelled box: taken by a detection (ignore boxes: False)
    face_duplicates: npt.NDArray[np.int64]  # [F] per labelled box: duplicates counted against it
    kinds: npt.NDArray[np.int8]  # [D] per detection, in input order: a Kind
    detection_face: npt.NDArray[np.int64]  # [D] the labelled box a detection took / duplicated / hit, else -1


def match_detections(
    labels: npt.ArrayLike, ignore: npt.ArrayLike, detections: npt.ArrayLike, iou_threshold: float = MATCH_IOU
) -> Matching:
    """Greedy one-to-one matching by score (the WIDER FACE / VOC protocol).

    labels [F, 4] x1, y1, x2, y2; ignore [F] bool; detections [D, 5] x1, y1, x2, y2, score. Detections are
    visited by score, highest first (ties keep input order). Each takes the unmatched, non-ignored face it
    overlaps most, when that IoU >= iou_threshold (TRUE). Otherwise, among the boxes it overlaps with IoU >=
    iou_threshold, the one it overlaps most decides: an ignore box makes it IGNORED, an already-matched face a
    DUPLICATE (so a better-placed box scored lower than a worse-placed one on the same face is the duplicate).
    With no such overlap it is FALSE.
    """
    boxes = np.asarray(labels, dtype=np.float64).reshape(-1, 4)
    ignored = np.asarray(ignore, dtype=bool).reshape(-1)
    dets = np.asarray(detections, dtype=np.float64).reshape(-1, 5)
    n_faces, n_dets = len(boxes), len(dets)
    matched = np.zeros(n_faces, dtype=bool)
    duplicates = np.zeros(n_faces, dtype=np.int64)
    kinds = np.full(n_dets, Kind.FALSE, dtype=np.int8)
    face_of = np.full(n_dets, -1, dtype=np.int64)
    if n_faces == 0 or n_dets == 0:
        return Matching(matched, duplicates, kinds, face_of)
    iou = iou_matrix(dets, boxes)  # [D, F]
    overlapping = iou >= iou_threshold
    # Detections overlapping nothing stay FALSE; only the others need the sequential greedy pass.
    order = np.argsort(-dets[:, 4], kind="stable")
    order = order[overlapping[order].any(axis=1)]
    faces = ~ignored
    for d in order:
        row = iou[d]
        free = np.where(faces & ~matched & overlapping[d], row, -1.0)
        best = int(np.argmax(free))
        if free[best] >= 0.0:
            matched[best] = True
            kinds[d], face_of[d] = Kind.TRUE, best
            continue
        best = int(np.argmax(np.where(overlapping[d], row, -1.0)))
        face_of[d] = best
        if ignored[best]:
            kinds[d] = Kind.IGNORED
        else:
            kinds[d] = Kind.DUPLICATE
            duplicates[best] += 1
    return Matching(matched, duplicates, kinds, face_of)


def average_precision(scores: npt.ArrayLike, is_true: npt.ArrayLike, faces: int) -> float | None:
    """WIDER-style AP: area under the interpolated precision-recall curve (VOC style), None without faces.

    scores / is_true: every non-ignored detection (true positives, duplicates and false ones) of a set;
    faces: its non-ignored labelled faces. Precision and recall are taken at every score threshold (detections
    with equal scores enter together), precision is replaced by its monotone envelope (the best precision at
    any higher recall) and integrated over recall, from recall 0 to the highest recall reached.
    """
    if faces <= 0:
        return None
    score = np.asarray(scores, dtype=np.float64).reshape(-1)
    true = np.asarray(is_true, dtype=bool).reshape(-1)
    if len(score) == 0:
        return 0.0
    order = np.argsort(-score, kind="stable")
    score, true = score[order], true[order]
    tp = np.cumsum(true)
    fp = np.cumsum(~true)
    last_of_tie = np.r_[score[1:] != score[:-1], True]  # one operating point per distinct score
    recall = tp[last_of_tie] / faces
    precision = tp[last_of_tie] / (tp[last_of_tie] + fp[last_of_tie])
    mrec = np.concatenate([[0.0], recall])
    mpre = np.concatenate([[0.0], precision])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # monotone envelope
    return float(np.sum((mrec[1:] - mrec[:-1]) * mpre[1:]))


def _bins() -> dict[str, int]:
    return {name: 0 for name, _, _ in HEIGHT_BINS}


@dataclass
class RecallTally:
    """One-to-one counts over a set: found / total labelled faces per height bin, duplicates, false positives,
    boxes per face, (score, is-true) pairs for average precision, and false detections on face-free images.

    ``found`` counts faces taken by a detection under one-to-one matching (match_detections), so extra boxes on
    a face raise ``duplicates`` and ``boxes_per_face``, never recall.
    """

    found: dict[str, int] = field(default_factory=_bins)
    total: dict[str, int] = field(default_factory=_bins)
    negative_images: int = 0
    false_detections_on_negatives: int = 0
    labelled_images: int = 0
    boxes_on_labelled: int = 0  # every detection on photos with labelled boxes, ignore-box hits included
    duplicates_by_bin: dict[str, int] = field(default_factory=_bins)  # by the height bin of the face duplicated
    false_on_labelled: int = 0  # plain false positives on labelled photos (no box overlapped), not duplicates
    ignored_detections: int = 0  # detections whose best overlap is an ignore box
    scores: list[npt.NDArray[np.float64]] = field(default_factory=list)  # per photo: non-ignored detections
    true: list[npt.NDArray[np.bool_]] = field(default_factory=list)  # per photo: which of them are true

    def add(self, image: LabelledImage, detections: npt.ArrayLike) -> None:
        dets = np.asarray(detections, dtype=np.float64).reshape(-1, 5)
        if len(image.boxes) == 0:
            self.negative_images += 1
            self.false_detections_on_negatives += len(dets)
            return
        matching = match_detections(image.boxes, image.ignore, dets)
        self.labelled_images += 1
        self.boxes_on_labelled += len(dets)
        for name, (is_found, dups) in per_face_bins(
            image, zip(matching.face_matched, matching.face_duplicates, strict=True)
        ):
            self.total[name] += 1
            self.found[name] += int(is_found)
            self.duplicates_by_bin[name] += int(dups)
        kinds = matching.kinds
        self.false_on_labelled += int(np.count_nonzero(kinds == Kind.FALSE))
        self.ignored_detections += int(np.count_nonzero(kinds == Kind.IGNORED))
        counted = kinds != Kind.IGNORED
        self.scores.append(dets[counted, 4].copy())
        self.true.append(kinds[counted] == Kind.TRUE)

    def merge(self, other: "RecallTally") -> None:
        for name in self.total:
            self.total[name] += other.total[name]
            self.found[name] += other.found[name]
            self.duplicates_by_bin[name] += other.duplicates_by_bin[name]
        self.negative_images += other.negative_images
        self.false_detections_on_negatives += other.false_detections_on_negatives
        self.labelled_images += other.labelled_images
        self.boxes_on_labelled += other.boxes_on_labelled
        self.false_on_labelled += other.false_on_labelled
        self.ignored_detections += other.ignored_detections
        self.scores.extend(other.scores)
        self.true.extend(other.true)

    def recall(self, name: str) -> float | None:
        """One-to-one recall of one height bin (None when the bin has no face)."""
        return self.found[name] / self.total[name] if self.total[name] else None

    @property
    def faces(self) -> int:
        """Labelled, non-ignored faces over every bin."""
        return sum(self.total.values())

    @property
    def matched(self) -> int:
        """Faces taken by a detection over every bin."""
        return sum(self.found.values())

    @property
    def duplicates(self) -> int:
        """Detections on labelled photos that only overlap (IoU >= 0.5) faces already taken."""
        return sum(self.duplicates_by_bin.values())

    @property
    def duplicates_per_matched_face(self) -> float | None:
        return self.duplicates / self.matched if self.matched else None

    @property
    def boxes_per_face(self) -> float | None:
        """Every box on labelled photos per labelled non-ignored face (1.0 for one box per face, no false)."""
        return self.boxes_on_labelled / self.faces if self.faces else None

    @property
    def false_positives_on_labelled(self) -> int:
        """Duplicates plus plain false positives on labelled photos."""
        return self.duplicates + self.false_on_labelled

    @property
    def false_per_labelled_image(self) -> float | None:
        """False positives (duplicates included) per labelled photo."""
        return self.false_positives_on_labelled / self.labelled_images if self.labelled_images else None

    @property
    def false_per_negative_image(self) -> float | None:
        if not self.negative_images:
            return None
        return self.false_detections_on_negatives / self.negative_images

    def average_precision(self) -> float | None:
        """WIDER-style AP over every non-ignored face of the photos added (None without faces)."""
        if not self.faces:
            return None
        scores = np.concatenate(self.scores) if self.scores else np.zeros(0)
        true = np.concatenate(self.true) if self.true else np.zeros(0, dtype=bool)
        return average_precision(scores, true, self.faces)


def per_face_bins[T](image: LabelledImage, per_face: Iterable[T]) -> Iterator[tuple[str, T]]:
    """(height bin, value) for each labelled face of image that is not marked ignore."""
    heights = image.boxes[:, 3] - image.boxes[:, 1]
    for value, height, ignored in zip(per_face, heights, image.ignore, strict=True):
        if not ignored:
            yield height_bin(float(height)), value

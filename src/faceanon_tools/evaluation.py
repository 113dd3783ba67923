"""Scoring against human-made face boxes (datasets laid out as ``annotations.json`` + ``images/``).

Matching is one-to-one, as in the WIDER FACE protocol: detections are taken in order of score (highest first)
and each takes the unmatched labelled face it overlaps most with IoU >= 0.5. A second box on a face that is
already taken is a *duplicate* (a false positive), not a second find. Boxes marked ``ignore`` neither count as
misses nor make detections false: a detection whose best overlap is an ignore box is left out of every count
but the raw number of boxes. Recall is reported per face-height bin; average precision is WIDER's (VOC-style
area under the interpolated precision-recall curve over score thresholds), over all non-ignored faces.
"""

import importlib.util
import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from faceanon.nms import iou_matrix

HEIGHT_BINS: tuple[tuple[str, float, float], ...] = (
    ("<10", 0.0, 10.0),
    ("10-20", 10.0, 20.0),
    ("20-40", 20.0, 40.0),
    ("40-80", 40.0, 80.0),
    (">=80", 80.0, float("inf")),
)
MATCH_IOU = 0.5


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    width: int
    height: int
    boxes: npt.NDArray[np.float64]  # [N, 4] x1, y1, x2, y2
    ignore: npt.NDArray[np.bool_]  # [N]


@dataclass(frozen=True)
class Dataset:
    name: str
    images: tuple[LabelledImage, ...]

    def part(self, name: "SplitName") -> "Dataset":
        """Only the photos of one half (split_of); a face-free set is returned whole (it is never tuned on)."""
        if self.is_negative:
            return self
        return Dataset(self.name, tuple(image for image in self.images if split_of(image) == name))

    @property
    def is_negative(self) -> bool:
        """A face-free set: every image has no labelled face."""
        return all(len(image.boxes) == 0 for image in self.images)


SplitName = Literal["dev", "test"]


def split_of(image: LabelledImage) -> SplitName:
    """The fixed half a labelled photo belongs to: strategy parameters are chosen on "dev" and reported on
    "test" too. CRC-32 of "<dataset folder>/<file name>", so the split is the same on every machine."""
    key = f"{image.path.parent.parent.name}/{image.path.name}"
    return "dev" if zlib.crc32(key.encode()) % 2 == 0 else "test"


def load_dataset(folder: Path) -> Dataset:
    """Read ``folder/annotations.json``; a folder with only images is a face-free (negative) set."""
    annotations = folder / "annotations.json"
    if not annotations.is_file():
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
        return face_free_set(folder.name, files)
    data = json.loads(annotations.read_text())
    images = []
    for entry in data["images"]:
        raw = np.asarray(entry["boxes"], dtype=np.float64).reshape(-1, 5)
        xywh = raw[:, :4]
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:4]], axis=1)
        images.append(LabelledImage(folder / entry["file"], entry["width"], entry["height"], boxes, raw[:, 4] > 0))
    return Dataset(folder.name, tuple(images))


# scikit-image's sample photos with no face in them (its astronaut and camera are portraits). They ship in a
# PyPI package, so false-mask checks can always run; ../shared/data/negatives holds the first ten.
SKIMAGE_FACE_FREE = (
    "brick.png",
    "chelsea.png",
    "clock_motion.png",
    "coins.png",
    "gravel.png",
    "horse.png",
    "ihc.png",
    "moon.png",
    "motorcycle_left.png",
    "text.png",
    "cell.png",
    "chessboard_RGB.png",
    "coffee.png",
    "color.png",
    "grass.png",
    "hubble_deep_field.jpg",
    "logo.png",
    "microaneurysms.png",
    "motorcycle_right.png",
    "page.png",
    "phantom.png",
    "retina.jpg",
    "rocket.jpg",
)


def skimage_face_free() -> Dataset | None:
    """scikit-image's face-free sample photos as a negative set, or None when scikit-image is not installed."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "data"
    files = [folder / name for name in SKIMAGE_FACE_FREE if (folder / name).is_file()]
    return face_free_set("skimage_face_free", files) if files else None


def face_free_set(name: str, files: Iterable[Path]) -> Dataset:
    """A negative set: images with no labelled face, where every detection is a false mask."""
    empty = np.zeros((0, 4))
    return Dataset(name, tuple(LabelledImage(p, 0, 0, empty, np.zeros(0, dtype=bool)) for p in files))


def find_datasets(root: Path) -> list[Dataset]:
    """Every dataset directly under root (``../shared/data`` layout), sorted by name."""
    return [load_dataset(d) for d in sorted(root.iterdir()) if d.is_dir()]


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


def load_rgb(path: Path) -> npt.NDArray[np.uint8]:
    """A dataset photo as upright (EXIF-oriented) RGB."""
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def ellipse_in_box(box: Sequence[float], height: int, width: int) -> tuple[slice, slice, npt.NDArray[np.bool_]]:
    """The ellipse inscribed in box as a boolean patch, with the slices placing it in an H x W image."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    top, bottom = max(0, int(np.floor(y1))), min(height, int(np.ceil(y2)))
    left, right = max(0, int(np.floor(x1))), min(width, int(np.ceil(x2)))
    ys = np.arange(top, bottom, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(left, right, dtype=np.float64)[None, :] + 0.5
    cy, cx = (y1 + y2) / 2, (x1 + x2) / 2
    ry, rx = max((y2 - y1) / 2, 1e-6), max((x2 - x1) / 2, 1e-6)
    inside = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1.0
    return slice(top, bottom), slice(left, right), inside


def face_pixel_coverage(changed: npt.NDArray[np.bool_], labels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """For each labelled box, the share of its inscribed-ellipse pixels that are marked changed (H x W)."""
    height, width = changed.shape
    shares = np.zeros(len(labels))
    for i, box in enumerate(labels):
        rows, cols, inside = ellipse_in_box(box, height, width)
        count = int(inside.sum())
        shares[i] = float(changed[rows, cols][inside].sum()) / count if count else 1.0
    return shares

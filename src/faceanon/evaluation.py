"""Scoring against human-made face boxes (datasets laid out as ``annotations.json`` + ``images/``).

The rule is WIDER FACE's: a labelled face is found when a detection overlaps it with IoU >= 0.5. Recall is
reported per face-height bin. Boxes marked ``ignore`` neither count as misses nor make detections false.
"""

import importlib.util
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from .nms import iou_matrix

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

    @property
    def is_negative(self) -> bool:
        """A face-free set: every image has no labelled face."""
        return all(len(image.boxes) == 0 for image in self.images)


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


@dataclass
class RecallTally:
    """Found / total labelled faces per height bin, plus false detections on face-free images."""

    found: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _, _ in HEIGHT_BINS})
    total: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _, _ in HEIGHT_BINS})
    negative_images: int = 0
    false_detections_on_negatives: int = 0

    def add(self, image: LabelledImage, detections: npt.ArrayLike) -> None:
        dets = np.asarray(detections, dtype=np.float64).reshape(-1, 5)
        if len(image.boxes) == 0:
            self.negative_images += 1
            self.false_detections_on_negatives += len(dets)
            return
        for name, is_found in per_face_bins(image, face_found(image.boxes, dets)):
            self.total[name] += 1
            self.found[name] += int(is_found)

    def merge(self, other: "RecallTally") -> None:
        for name in self.total:
            self.total[name] += other.total[name]
            self.found[name] += other.found[name]
        self.negative_images += other.negative_images
        self.false_detections_on_negatives += other.false_detections_on_negatives

    def recall(self, name: str) -> float | None:
        return self.found[name] / self.total[name] if self.total[name] else None

    @property
    def false_per_negative_image(self) -> float | None:
        if not self.negative_images:
            return None
        return self.false_detections_on_negatives / self.negative_images


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


def face_found(labels: npt.NDArray[np.float64], detections: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """For each labelled box [N, 4], whether some detection overlaps it with IoU >= 0.5."""
    if len(labels) == 0:
        return np.zeros(0, dtype=bool)
    if len(detections) == 0:
        return np.zeros(len(labels), dtype=bool)
    return np.asarray((iou_matrix(labels, detections) >= MATCH_IOU).any(axis=1))


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

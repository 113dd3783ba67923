"""Labelled face sets (``annotations.json`` + ``images/``), face-free sets, the fixed dev/test split, photo loading."""

import importlib.util
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from faceanon.images import upright


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


def load_rgb(path: Path) -> npt.NDArray[np.uint8]:
    """A dataset photo as upright RGB (EXIF orientation applied as decode does: faceanon.images.upright)."""
    with Image.open(path) as opened:
        image = upright(opened)
        if image.mode in {"I", "I;16", "I;16B", "I;16L", "F"}:  # 16/32-bit grey: stretch to 8 bits as a viewer does
            values = np.asarray(image, dtype=np.float64)
            low, high = float(values.min()), float(values.max())
            grey = np.round((values - low) * (255 / max(high - low, 1e-9))).astype(np.uint8)
            return np.repeat(grey[:, :, None], 3, axis=2)
        return np.asarray(image.convert("RGB"))

"""Shared fixtures: the shipped sample photo, a session-wide real detector, a fake detector, image builders."""

import io
import struct
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from faceanon.detector import CenterFaceDetector
from faceanon.errors import ModelError
from faceanon.model import resolve_model_path

REPO = Path(__file__).resolve().parents[1]
# Until the int8 model is built, a checkout may only have the cleaned fp32 model the build starts from.
_DEV_MODEL = REPO / "build" / "models" / "centerface_fp32.onnx"

MARKER = (255, 0, 0)  # what FakeDetector calls a face


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    """The shipped public-domain photo (NASA astronaut portrait, 512 x 512, one face)."""
    return resources.files("faceanon").joinpath("samples", "astronaut.jpg").read_bytes()


@pytest.fixture(scope="session")
def sample_rgb(sample_bytes: bytes) -> npt.NDArray[np.uint8]:
    with Image.open(io.BytesIO(sample_bytes)) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="session")
def real_model_path() -> Path:
    try:
        return resolve_model_path()
    except ModelError:
        if _DEV_MODEL.is_file():
            return _DEV_MODEL
        pytest.skip("no detector model: build it (models/build.py) or set FACEANON_MODEL_PATH")


@pytest.fixture(scope="session")
def real_detector(real_model_path: Path) -> CenterFaceDetector:
    """One real CenterFace session for the whole test run (loading it takes ~0.3 s)."""
    return CenterFaceDetector(real_model_path)


class FakeDetector:
    """Finds "faces" as the bounding box of pure-red marker pixels (or returns fixed boxes); records calls."""

    model_sha256 = "fake-model"

    def __init__(self, boxes: npt.ArrayLike | None = None, score: float = 0.9) -> None:
        self.boxes = None if boxes is None else np.asarray(boxes, dtype=np.float32).reshape(-1, 5)
        self.score = score
        self.calls: list[tuple[tuple[int, ...], float | None]] = []
        self.detections: list[str] = []

    def detect(
        self, rgb: npt.NDArray[np.uint8], *, threshold: float | None, detection: str = "default"
    ) -> npt.NDArray[np.float32]:
        self.calls.append((rgb.shape, threshold))
        self.detections.append(detection)
        if self.boxes is not None:
            return self.boxes.copy()
        red = (rgb[:, :, 0] > 180) & (rgb[:, :, 1] < 80) & (rgb[:, :, 2] < 80)
        rows, cols = np.nonzero(red)
        if rows.size == 0:
            return np.zeros((0, 5), dtype=np.float32)
        box = [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1, self.score]
        return np.asarray([box], dtype=np.float32)


@pytest.fixture
def fake_detector() -> FakeDetector:
    return FakeDetector()


def gradient(width: int, height: int) -> npt.NDArray[np.uint8]:
    """A smooth colour background (compresses well in lossy formats, so pixel comparisons stay tight)."""
    ys = np.linspace(40, 200, height)[:, None]
    xs = np.linspace(40, 200, width)[None, :]
    rgb = np.stack([ys + 0 * xs, 0 * ys + xs, (ys + xs) / 2], axis=2)
    return rgb.astype(np.uint8)


def marked(width: int, height: int, box: tuple[int, int, int, int]) -> npt.NDArray[np.uint8]:
    """A gradient with a red marker square (a FakeDetector "face") at box = (x1, y1, x2, y2)."""
    rgb = gradient(width, height)
    x1, y1, x2, y2 = box
    rgb[y1:y2, x1:x2] = MARKER
    return rgb


def to_bytes(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def exif_with_gps_and_thumbnail(orientation: int, thumbnail: bytes) -> bytes:
    """An EXIF APP1 payload with Orientation, Make, a GPS position and an IFD1 JPEG thumbnail (little-endian)."""

    def entry(tag: int, kind: int, count: int, value: bytes) -> bytes:
        return struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")

    ifd0_at, make_at, gps_at, rationals_at, ifd1_at = 8, 50, 58, 88, 112
    thumb_at = ifd1_at + 2 + 3 * 12 + 4
    ifd0 = (
        struct.pack("<H", 3)
        + entry(0x010F, 2, 7, struct.pack("<I", make_at))
        + entry(0x0112, 3, 1, struct.pack("<H", orientation))
        + entry(0x8825, 4, 1, struct.pack("<I", gps_at))
        + struct.pack("<I", ifd1_at)
    )
    gps = (
        struct.pack("<H", 2)
        + entry(0x0001, 2, 2, b"N\0")
        + entry(0x0002, 5, 3, struct.pack("<I", rationals_at))
        + struct.pack("<I", 0)
    )
    rationals = struct.pack("<6I", 51, 1, 30, 1, 2628, 100)
    ifd1 = (
        struct.pack("<H", 3)
        + entry(0x0103, 3, 1, struct.pack("<H", 6))
        + entry(0x0201, 4, 1, struct.pack("<I", thumb_at))
        + entry(0x0202, 4, 1, struct.pack("<I", len(thumbnail)))
        + struct.pack("<I", 0)
    )
    tiff = b"II*\0" + struct.pack("<I", ifd0_at) + ifd0 + b"Camera\0\0" + gps + rationals + ifd1 + thumbnail
    assert len(b"II*\0") + 4 + len(ifd0) == make_at
    assert thumb_at == len(tiff) - len(thumbnail)
    return b"Exif\0\0" + tiff


def jpeg_segments(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(marker, payload) of every JPEG segment before the image data (SOS)."""
    position = 2
    while position + 4 <= len(data):
        marker = data[position + 1]
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        yield marker, data[position + 4 : position + 2 + length]
        if marker == 0xDA:
            return
        position += 2 + length

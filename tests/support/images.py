"""Synthetic images for the tests: smooth backgrounds, FakeDetector markers, EXIF payloads, JPEG segments."""

import io
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from support.fakes import MARKER


def gradient(width: int, height: int) -> npt.NDArray[np.uint8]:
    """A smooth colour background (compresses well in lossy formats, so pixel comparisons stay tight)."""
    ys = np.linspace(40, 200, height)[:, None]
    xs = np.linspace(40, 200, width)[None, :]
    rgb = np.stack([ys + 0 * xs, 0 * ys + xs, (ys + xs) / 2], axis=2)
    return rgb.astype(np.uint8)


def upright_reference() -> npt.NDArray[np.uint8]:
    """A gradient with a bright patch top-left, so every EXIF orientation of it looks different."""
    reference = gradient(60, 40)
    reference[5:15, 5:25] = (250, 250, 250)
    return reference


# EXIF orientation -> how the camera stored the upright picture (the inverse of what the viewer applies).
STORED_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


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

"""What faceanon reads and writes: Pillow set up for untrusted input, the format allow-list, DecodedImage.

Importing this module registers the HEIF opener, loads Pillow's plugins and sets Pillow's decompression-bomb
guard and truncated-file policy, so every decode (image_decode.py) and encode (image_encode.py) runs with them.
"""

import struct
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, ImageFile

RGBImage = npt.NDArray[np.uint8]
AlphaImage = npt.NDArray[np.uint8]

pillow_heif.register_heif_opener(thumbnails=False)
Image.init()  # load every plugin now, so the format allow-list below resolves (and the first call is not slower)

# Pillow's own decompression-bomb guard, set on purpose as a backstop: it raises DecompressionBombError in
# Image.open for more than twice this many pixels. Our own, configurable check (Settings.max_pixels, at most
# 500 MP) runs right after the header is read and is always the stricter one.
Image.MAX_IMAGE_PIXELS = 500_000_000
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never a half-grey picture

MAX_FRAMES: Final = 1000

# Pillow format name -> (output format, content type). Only these formats are ever opened: Pillow is not
# asked to guess among its ~40 plugins (some, such as EPS, would run external programs).
FORMATS: Final[dict[str, tuple[str, str]]] = {
    "JPEG": ("JPEG", "image/jpeg"),
    "MPO": ("JPEG", "image/jpeg"),
    "PNG": ("PNG", "image/png"),
    "WEBP": ("WEBP", "image/webp"),
    "GIF": ("GIF", "image/gif"),
    "TIFF": ("TIFF", "image/tiff"),
    "BMP": ("BMP", "image/bmp"),
    "AVIF": ("AVIF", "image/avif"),
    "HEIF": ("HEIF", "image/heic"),
}
OPENABLE: Final = [name for name in FORMATS if name in Image.OPEN]
CONTENT_TYPES: Final[dict[str, str]] = {fmt: ctype for fmt, ctype in FORMATS.values()}
EXTENSIONS: Final[dict[str, str]] = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".png": "PNG",
    ".apng": "PNG",
    ".webp": "WEBP",
    ".gif": "GIF",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".dib": "BMP",
    ".avif": "AVIF",
    ".heic": "HEIF",
    ".heif": "HEIF",
}
# zlib level for PNG output. Pillow's default (6) made encoding the slowest stage for small photos: on 60
# Kaggle PNGs (median 400 x 227) level 6 took 32.6 ms p50, level 1 7.9 ms for 7% more bytes (OpenCV also
# writes PNG at level 1 by default).
PNG_COMPRESS_LEVEL: Final = 1
MULTI_FRAME_FORMATS: Final = frozenset({"PNG", "WEBP", "GIF", "TIFF", "AVIF", "HEIF"})
LOSSY_FORMATS: Final = frozenset({"JPEG", "WEBP", "AVIF", "HEIF"})
# Modes each output format can write; anything else is widened to RGB(A).
WRITABLE_MODES: Final[dict[str, frozenset[str]]] = {
    "JPEG": frozenset({"L", "RGB"}),
    "PNG": frozenset({"L", "LA", "RGB", "RGBA"}),
    "WEBP": frozenset({"RGB", "RGBA"}),
    "GIF": frozenset({"L", "RGB", "RGBA"}),
    "TIFF": frozenset({"L", "LA", "RGB", "RGBA"}),
    "BMP": frozenset({"L", "RGB", "RGBA"}),
    "AVIF": frozenset({"RGB", "RGBA"}),
    "HEIF": frozenset({"L", "RGB", "RGBA"}),
}

# What Pillow's plugins raise on malformed input (fuzzing found all of these, TypeError from a TIFF page
# without dimensions); none of them is ours.
DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError)


@dataclass(frozen=True)
class DecodedImage:
    """Every frame as upright RGB (H x W x 3 uint8), its alpha (H x W) or None, and what encode needs."""

    frames: tuple[RGBImage, ...]
    alphas: tuple[AlphaImage | None, ...]
    format: str  # the output format, a key of CONTENT_TYPES
    source_mode: str  # the first frame's Pillow mode before conversion
    output_mode: str  # L, LA, RGB or RGBA
    icc_profile: bytes | None = None
    durations: tuple[int | None, ...] = ()  # per frame, ms (animations)
    loop: int | None = None
    save_options: dict[str, Any] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return int(self.frames[0].shape[1])

    @property
    def height(self) -> int:
        return int(self.frames[0].shape[0])

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def has_alpha(self) -> bool:
        return self.output_mode in ("LA", "RGBA")

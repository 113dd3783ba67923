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


@dataclass(frozen=True)
class ImageFormat:
    """One format faceanon reads: what it is written back as, its content type and its file extensions."""

    output: str  # the Pillow format the result is written in (a key of CONTENT_TYPES)
    content_type: str
    extensions: tuple[str, ...] = ()


# The one list of accepted formats, keyed by Pillow format name: the decoder opens only these (Pillow is not
# asked to guess among its ~40 plugins; some, such as EPS, would run external programs) and the CLI's folder
# search picks up only their extensions (EXTENSIONS below), so the two cannot disagree.
FORMATS: Final[dict[str, ImageFormat]] = {
    "JPEG": ImageFormat("JPEG", "image/jpeg", (".jpg", ".jpeg", ".jpe", ".jfif")),
    "MPO": ImageFormat("JPEG", "image/jpeg", (".mpo",)),
    "PNG": ImageFormat("PNG", "image/png", (".png", ".apng")),
    "WEBP": ImageFormat("WEBP", "image/webp", (".webp",)),
    "GIF": ImageFormat("GIF", "image/gif", (".gif",)),
    "TIFF": ImageFormat("TIFF", "image/tiff", (".tif", ".tiff")),
    "BMP": ImageFormat("BMP", "image/bmp", (".bmp",)),
    # A .dib is a BMP without its 14-byte file header (Pillow opens one with the header as BMP).
    "DIB": ImageFormat("DIB", "image/bmp", (".dib",)),
    "AVIF": ImageFormat("AVIF", "image/avif", (".avif",)),
    "HEIF": ImageFormat("HEIF", "image/heic", (".heic", ".heif")),
}
OPENABLE: Final = [name for name in FORMATS if name in Image.OPEN]
CONTENT_TYPES: Final[dict[str, str]] = {fmt.output: fmt.content_type for fmt in FORMATS.values()}
EXTENSIONS: Final[dict[str, str]] = {ext: fmt.output for fmt in FORMATS.values() for ext in fmt.extensions}
SUPPORTED_NAMES: Final = "JPEG, PNG, WebP, GIF, TIFF, BMP, AVIF, HEIC"  # in error messages (clients match them)

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
    "DIB": frozenset({"L", "RGB", "RGBA"}),
    "AVIF": frozenset({"RGB", "RGBA"}),
    "HEIF": frozenset({"L", "RGB", "RGBA"}),
}

# What Pillow's plugins raise on malformed input (fuzzing found all of these, TypeError from a TIFF page
# without dimensions, RuntimeError from the AVIF decoder on corrupt AV1 data, ZeroDivisionError from an AVIF
# sequence with a zero timescale); none of them is ours.
DECODE_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    RuntimeError,
    ArithmeticError,
)


@dataclass(frozen=True)
class DecodedImage:
    """Every frame as upright RGB (H x W x 3 uint8), its alpha (H x W) or None, and what encode needs."""

    frames: tuple[RGBImage, ...]
    alphas: tuple[AlphaImage | None, ...]
    format: str  # the output format, a key of CONTENT_TYPES
    source_mode: str  # the first frame's Pillow mode before conversion
    output_mode: str  # L, LA, RGB or RGBA
    icc_profile: bytes | None = None
    durations: tuple[float | None, ...] = ()  # per frame, ms (animations; APNG delays are fractions of a second)
    loop: int | None = None
    save_options: dict[str, Any] = field(default_factory=dict)
    # Per frame, the GIF/APNG disposal method (GIF 0-3, APNG 0-2), written back as it came in.
    disposals: tuple[int, ...] = ()
    # APNG: frame 0 is the default image (what non-APNG viewers show), not part of the animation.
    default_image: bool = False

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

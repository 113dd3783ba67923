"""Image I/O that never leaks: bounded decode to upright RGB frames, and encode with no metadata.

The public face of six modules: image_formats.py (Pillow set up for untrusted input, the one table of accepted
formats and extensions, DecodedImage), image_decode.py (``decode``: limits checked before any pixel is decoded,
every frame upright), image_orientation.py (the one EXIF orientation function), image_encode.py (``encode``:
fresh images, no metadata but a matching ICC profile), image_animation.py (GIF/APNG/WebP animations written
frame by frame, never merged) and image_containers.py (what is read from the bytes before Pillow). Here: file
names and bounded file reads.
"""

import os

from .errors import PayloadTooLargeError
from .image_decode import decode
from .image_encode import encode
from .image_formats import (
    CONTENT_TYPES,
    EXTENSIONS,
    FORMATS,
    LOSSY_FORMATS,
    MAX_FRAMES,
    MULTI_FRAME_FORMATS,
    PNG_COMPRESS_LEVEL,
    AlphaImage,
    DecodedImage,
    RGBImage,
)
from .image_orientation import upright

__all__ = [
    "CONTENT_TYPES",
    "EXTENSIONS",
    "FORMATS",
    "LOSSY_FORMATS",
    "MAX_FRAMES",
    "MULTI_FRAME_FORMATS",
    "PNG_COMPRESS_LEVEL",
    "AlphaImage",
    "DecodedImage",
    "RGBImage",
    "decode",
    "encode",
    "guess_format",
    "read_file",
    "upright",
]


def guess_format(name: str) -> str | None:
    """The output format a file name's extension implies (None when it is not an image faceanon reads)."""
    dot = name.rfind(".")
    return EXTENSIONS.get(name[dot:].lower()) if dot >= 0 else None


def read_file(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """A file's bytes, refusing (before reading) one larger than max_bytes."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise PayloadTooLargeError(f"image is {size} bytes; the limit is {max_bytes}")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"image is more than {max_bytes} bytes")
    return data

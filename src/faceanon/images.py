"""Image I/O that never leaks: bounded decode to upright RGB frames, and encode with no metadata.

``decode`` checks the byte size, then opens the header only (Pillow reads no pixel data on ``Image.open``) and
checks the pixel count of every frame against ``max_pixels`` before that frame is decoded. EXIF orientation is
applied to every frame, so detection and masks work in the upright pixels the viewer sees.

``encode`` builds fresh Pillow images from the (masked) arrays, so nothing of the input's metadata can come
along: no EXIF (GPS, serials, the EXIF thumbnail), XMP, IPTC or comments; only an ICC profile that still
matches the output's colour space. The output has the input's format, size, frame count and alpha, and is
upright (there is no orientation tag). Mode changes, all documented in the README:

* greyscale (1, L, I, I;16, F) becomes 8-bit L (16-bit keeps its high byte); LA stays LA;
* palette (P) becomes RGB, or RGBA when it has transparency (GIF keeps a palette: GIF cannot hold RGB);
* CMYK, YCbCr, LAB and other colour modes become RGB (the input's CMYK ICC profile is dropped);
* MPO (JPEG with extra pictures, common from phone cameras) becomes a JPEG of the primary picture only.
"""

import io
import os
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, ImageFile, UnidentifiedImageError

from .errors import FaceAnonError, ImageTooLargeError, PayloadTooLargeError, UnsupportedImageError

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
_OPENABLE: Final = [name for name in FORMATS if name in Image.OPEN]
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
_WRITABLE_MODES: Final[dict[str, frozenset[str]]] = {
    "JPEG": frozenset({"L", "RGB"}),
    "PNG": frozenset({"L", "LA", "RGB", "RGBA"}),
    "WEBP": frozenset({"RGB", "RGBA"}),
    "GIF": frozenset({"L", "RGB", "RGBA"}),
    "TIFF": frozenset({"L", "LA", "RGB", "RGBA"}),
    "BMP": frozenset({"L", "RGB", "RGBA"}),
    "AVIF": frozenset({"RGB", "RGBA"}),
    "HEIF": frozenset({"L", "RGB", "RGBA"}),
}
_TIFF_COMPRESSIONS: Final = frozenset({"raw", "tiff_lzw", "tiff_adobe_deflate", "packbits"})
_GREY_MODES: Final = frozenset({"1", "L", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES: Final = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})

# What Pillow's plugins raise on malformed input (fuzzing found all of these, TypeError from a TIFF page
# without dimensions); none of them is ours.
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError)

# EXIF orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose).
_ORIENTATION: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


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


def decode(data: bytes, *, max_pixels: int, max_bytes: int) -> DecodedImage:
    """Decode image bytes into upright RGB frames; limits are checked before any pixel data is decoded."""
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"image is {len(data)} bytes; the limit is {max_bytes}")
    if not data:
        raise UnsupportedImageError("empty input: not an image")
    try:
        with warnings.catch_warnings():
            # Pillow warns between its guard's 1x and 2x; our own (stricter) check decides, so the warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_OPENABLE) as image:
                return _decode_open(image, max_pixels=max_pixels)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"image has too many pixels (the limit is {max_pixels})") from exc
    except FaceAnonError:
        raise
    except UnidentifiedImageError as exc:
        raise UnsupportedImageError(
            "not an image in a supported format (JPEG, PNG, WebP, GIF, TIFF, BMP, AVIF, HEIC)"
        ) from exc
    except _DECODE_ERRORS as exc:
        raise UnsupportedImageError("image data is corrupt or truncated") from exc


def _decode_open(image: Image.Image, *, max_pixels: int) -> DecodedImage:
    source_format = image.format or ""
    out_format = FORMATS[source_format][0]
    width, height = image.size
    _check_pixels(width, height, 1, max_pixels)
    n_frames = 1 if source_format == "MPO" else int(getattr(image, "n_frames", 1))
    if n_frames > MAX_FRAMES:
        raise ImageTooLargeError(f"image has {n_frames} frames; the limit is {MAX_FRAMES}")
    if n_frames > 1 and out_format not in MULTI_FRAME_FORMATS:
        raise UnsupportedImageError(f"{source_format} with {n_frames} frames is not supported")
    # Frames of GIF/WebP/APNG share one size; TIFF pages may differ and are checked again one by one.
    _check_pixels(width, height, n_frames, max_pixels)

    source_mode = image.mode
    icc = image.info.get("icc_profile")
    loop = image.info.get("loop")
    frames: list[RGBImage] = []
    alphas: list[AlphaImage | None] = []
    durations: list[int | None] = []
    total = 0
    for index in range(n_frames):
        if index:
            image.seek(index)
        total += image.size[0] * image.size[1]
        _check_pixels(*image.size, 1, max_pixels)
        if total > max_pixels:
            raise ImageTooLargeError(f"image frames have {total}+ pixels in all; the limit is {max_pixels}")
        image.load()
        # Read after load: some plugins (TIFF) apply the orientation themselves on load and drop the tag.
        transpose = _ORIENTATION.get(_orientation(image))
        frame: Image.Image = image.transpose(transpose) if transpose is not None else image
        rgb, alpha = _to_rgb(frame)
        frames.append(rgb)
        alphas.append(alpha)
        duration = image.info.get("duration")
        durations.append(int(duration) if isinstance(duration, int | float) else None)

    output_mode = _output_mode(source_mode, any(a is not None for a in alphas), out_format)
    if any(a is not None for a in alphas) and output_mode in ("LA", "RGBA"):
        alphas = [
            a if a is not None else np.full(f.shape[:2], 255, np.uint8) for f, a in zip(frames, alphas, strict=True)
        ]
    else:
        alphas = [None] * len(frames)
    options: dict[str, Any] = {}
    if out_format == "TIFF":
        compression = image.info.get("compression")
        options["compression"] = compression if compression in _TIFF_COMPRESSIONS else "tiff_adobe_deflate"
    return DecodedImage(
        frames=tuple(frames),
        alphas=tuple(alphas),
        format=out_format,
        source_mode=source_mode,
        output_mode=output_mode,
        icc_profile=_matching_icc(icc, output_mode),
        durations=tuple(durations),
        loop=int(loop) if isinstance(loop, int) else None,
        save_options=options,
    )


def _check_pixels(width: int, height: int, n_frames: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise UnsupportedImageError("image has no pixels")
    pixels = width * height * n_frames
    if pixels > max_pixels:
        frames = f" x {n_frames} frames" if n_frames > 1 else ""
        raise ImageTooLargeError(f"image is {width}x{height}{frames} = {pixels} pixels; the limit is {max_pixels}")


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except _DECODE_ERRORS:
        return 1  # unreadable EXIF: nothing of it is kept anyway
    return int(value) if isinstance(value, int) else 1


def _to_rgb(frame: Image.Image) -> tuple[RGBImage, AlphaImage | None]:
    """A frame as RGB uint8 plus its alpha; hidden colour under transparent pixels is kept (and detected on)."""
    mode = frame.mode
    if mode in _GREY_MODES:
        grey = _grey8(frame)
        return np.repeat(grey[:, :, None], 3, axis=2), None
    if mode == "P" and "transparency" in frame.info:
        frame = frame.convert("RGBA")
        mode = "RGBA"
    if mode in _ALPHA_MODES:
        rgba = np.asarray(frame.convert("RGBA"))
        return np.ascontiguousarray(rgba[:, :, :3]), np.ascontiguousarray(rgba[:, :, 3])
    return np.asarray(frame.convert("RGB")).copy(), None


def _grey8(frame: Image.Image) -> npt.NDArray[np.uint8]:
    """8-bit grey from 1/L, 16-bit (high byte) or 32-bit int/float (by their value range) greyscale."""
    if frame.mode in ("1", "L"):
        return np.asarray(frame.convert("L")).copy()
    values = np.asarray(frame)
    if frame.mode.startswith("I;16"):
        return (values.astype(np.uint32) >> 8).astype(np.uint8)
    values = np.nan_to_num(values.astype(np.float64))
    low, high = float(values.min()), float(values.max())
    if frame.mode == "F" and low >= 0 and high <= 1:
        scaled = values * 255.0  # float images in 0..1
    elif low >= 0 and high <= 255:
        scaled = values
    elif low >= 0 and high <= 65535:
        scaled = values / 257.0  # 16-bit data in a 32-bit mode
    else:
        scaled = (values - low) * (255.0 / (high - low))  # anything else: stretched to 0..255
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _output_mode(source_mode: str, has_alpha: bool, out_format: str) -> str:
    if source_mode in _GREY_MODES:
        mode = "L"
    elif source_mode in ("LA", "La"):
        mode = "LA"
    else:
        mode = "RGBA" if has_alpha else "RGB"
    if mode not in _WRITABLE_MODES[out_format]:
        mode = "RGBA" if has_alpha and "RGBA" in _WRITABLE_MODES[out_format] else "RGB"
    return mode


def _matching_icc(icc: object, output_mode: str) -> bytes | None:
    """Keep the ICC profile only when its colour space is the output's (a CMYK profile on RGB would be wrong)."""
    if not isinstance(icc, bytes) or len(icc) < 20:
        return None
    space = icc[16:20]
    wanted = b"GRAY" if output_mode in ("L", "LA") else b"RGB "
    return icc if space == wanted else None


def encode(
    image: DecodedImage,
    frames: Sequence[RGBImage] | None = None,
    *,
    quality: int = 90,
    png_compress_level: int = PNG_COMPRESS_LEVEL,
) -> bytes:
    """Encode frames (default: the decoded ones) in the image's format, mode and alpha; no metadata but ICC.

    quality applies to lossy formats (JPEG, WebP, AVIF, HEIC), png_compress_level (zlib 0-9) to PNG.
    """
    pixels = image.frames if frames is None else tuple(frames)
    if len(pixels) != len(image.frames):
        raise UnsupportedImageError("frame count changed between decode and encode")
    pictures = [_to_pillow(rgb, alpha, image.output_mode) for rgb, alpha in zip(pixels, image.alphas, strict=True)]
    options = _save_options(image, quality, png_compress_level)
    if len(pictures) > 1:
        options.update(save_all=True, append_images=pictures[1:])
        if image.format in ("GIF", "PNG", "WEBP", "AVIF") and all(d is not None for d in image.durations):
            options["duration"] = list(image.durations)
        if image.loop is not None and image.format in ("GIF", "PNG", "WEBP", "AVIF"):
            options["loop"] = image.loop
    buffer = io.BytesIO()
    try:
        pictures[0].save(buffer, format=image.format, **options)
    except (OSError, ValueError, KeyError, OverflowError) as exc:
        # OverflowError: Pillow's GIF/APNG writers merge identical frames by adding their 16-bit delays (found
        # by the fuzzer); fail closed rather than write fewer or shorter frames than were read.
        raise UnsupportedImageError(f"cannot write the result as {image.format}") from exc
    return buffer.getvalue()


def _to_pillow(rgb: RGBImage, alpha: AlphaImage | None, mode: str) -> Image.Image:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise UnsupportedImageError("frames to encode must be H x W x 3 uint8")
    picture = Image.fromarray(np.ascontiguousarray(rgb))
    if mode in ("L", "LA"):
        picture = picture.convert("L")
    if mode in ("LA", "RGBA"):
        if alpha is None or alpha.shape != rgb.shape[:2]:
            raise UnsupportedImageError("alpha channel missing or of the wrong size")
        picture.putalpha(Image.fromarray(np.ascontiguousarray(alpha)))
    return picture


def _save_options(image: DecodedImage, quality: int, png_compress_level: int) -> dict[str, Any]:
    options: dict[str, Any] = dict(image.save_options)
    if image.format == "PNG":
        options["compress_level"] = png_compress_level
    if image.icc_profile and image.format not in ("GIF", "BMP"):
        options["icc_profile"] = image.icc_profile
    if image.format in LOSSY_FORMATS:
        options["quality"] = quality
    if image.format == "WEBP":
        options["method"] = 4
    return options


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

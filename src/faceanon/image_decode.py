"""Bounded decode to upright RGB frames.

``decode`` checks the byte size, then opens the header only (Pillow reads no pixel data on ``Image.open``) and
checks the pixel count of every frame against ``max_pixels`` before that frame is decoded. EXIF orientation is
applied to every frame (image_orientation.upright), so detection and masks work in the upright pixels the viewer
sees. Mode changes, all documented in the README:

* greyscale (1, L, I, I;16, F) becomes 8-bit L (16-bit keeps its high byte); LA stays LA;
* a PNG colour key (tRNS on grey or RGB) becomes an alpha channel: LA or RGBA;
* palette (P) becomes RGB, or RGBA when it has transparency (GIF output is quantised back to a palette);
* CMYK, YCbCr, LAB and other colour modes become RGB (the input's CMYK ICC profile is dropped);
* MPO (JPEG with extra pictures, common from phone cameras) becomes a JPEG of the primary picture only.

Animations come out as Pillow composes them: every frame is the whole picture as the viewer sees it then (GIF
and APNG disposal and blending applied), so detection and masks see what is shown; encode writes each frame
whole (image_animation.py) with the input's durations, disposal methods and loop count.
"""

import io
import warnings
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

from .errors import FaceAnonError, ImageTooLargeError, PayloadTooLargeError, UnsupportedImageError
from .image_containers import gif_canvas, webp_lossless
from .image_formats import (
    DECODE_ERRORS,
    FORMATS,
    MAX_FRAMES,
    MULTI_FRAME_FORMATS,
    OPENABLE,
    SUPPORTED_NAMES,
    WRITABLE_MODES,
    AlphaImage,
    DecodedImage,
    RGBImage,
)
from .image_orientation import upright

# TIFF codecs this Pillow wheel's libtiff decodes (tests/unit/test_image_fidelity.py reads each of them); any
# other (WebP, old-style JPEG, SGI LogLuv, ThunderScan, ...) is refused by name before any pixel is decoded.
_TIFF_DECODABLE: Final = frozenset(
    {
        "raw",
        "tiff_ccitt",
        "group3",
        "group4",
        "tiff_lzw",
        "jpeg",
        "tiff_adobe_deflate",
        "tiff_deflate",
        "packbits",
        "lzma",
        "zstd",
    }
)
# TIFF codecs written back as they came in (lossless ones that take every output mode); others become deflate.
_TIFF_KEPT: Final = frozenset({"raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "lzma", "zstd"})
# How Pillow scales a PNG's low-bit grey samples to 0-255 (the tRNS key is stored unscaled).
_PNG_KEY_SCALE: Final = {"L;2": 85, "L;4": 17}
_GREY_MODES: Final = frozenset({"1", "L", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES: Final = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})


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
            with Image.open(io.BytesIO(data), formats=OPENABLE) as image:
                if image.format == "GIF":  # before any seek: Pillow allocates a grown GIF canvas while seeking
                    _check_pixels(*gif_canvas(data), 1, max_pixels)
                lossless = image.format == "WEBP" and webp_lossless(data)
                return _decode_open(image, max_pixels=max_pixels, lossless=lossless)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"image has too many pixels (the limit is {max_pixels})") from exc
    except FaceAnonError:
        raise
    except UnidentifiedImageError as exc:
        raise UnsupportedImageError(f"not an image in a supported format ({SUPPORTED_NAMES})") from exc
    except DECODE_ERRORS as exc:
        raise UnsupportedImageError("image data is corrupt or truncated") from exc


def _decode_open(image: Image.Image, *, max_pixels: int, lossless: bool = False) -> DecodedImage:
    source_format = image.format or ""
    out_format = FORMATS[source_format].output
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
    options = _save_options(image, out_format)  # from the first frame's header, before any seek
    if lossless:
        options["lossless"] = True  # a lossless WebP is written back lossless
    loop = image.info.get("loop")
    frames: list[RGBImage] = []
    alphas: list[AlphaImage | None] = []
    durations: list[float | None] = []
    disposals: list[int] = []
    total = 0
    for index in range(n_frames):
        if index:
            image.seek(index)
        total += image.size[0] * image.size[1]
        _check_pixels(*image.size, 1, max_pixels)
        if total > max_pixels:
            raise ImageTooLargeError(f"image frames have {total}+ pixels in all; the limit is {max_pixels}")
        if source_format == "TIFF":
            _check_tiff_compression(image)
        key = _colour_key(image)  # read before load: it needs the PNG's raw sample layout
        frame = upright(image)
        rgb, alpha = _to_rgb(frame, key)
        frames.append(rgb)
        alphas.append(alpha)
        duration = image.info.get("duration")
        durations.append(float(duration) if isinstance(duration, int | float) else None)
        disposals.append(_disposal(image))

    output_mode = _output_mode(source_mode, any(a is not None for a in alphas), out_format)
    if any(a is not None for a in alphas) and output_mode in ("LA", "RGBA"):
        alphas = [
            a if a is not None else np.full(f.shape[:2], 255, np.uint8) for f, a in zip(frames, alphas, strict=True)
        ]
    else:
        alphas = [None] * len(frames)
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
        disposals=tuple(disposals),
        default_image=source_format == "PNG" and n_frames > 1 and bool(image.info.get("default_image")),
    )


def _check_tiff_compression(page: Image.Image) -> None:
    compression = page.info.get("compression", "raw")
    if compression not in _TIFF_DECODABLE:
        raise UnsupportedImageError(f"TIFF compression {compression} is not supported")


def _disposal(frame: Image.Image) -> int:
    """The frame's GIF (disposal_method, 0-3) or APNG (info "disposal", 0-2) disposal method; 0 when none."""
    value = getattr(frame, "disposal_method", None) if frame.format == "GIF" else frame.info.get("disposal")
    return int(value) if isinstance(value, int) and 0 <= value <= 3 else 0


def _save_options(image: Image.Image, out_format: str) -> dict[str, Any]:
    """How the input was written, where the output can be written the same way."""
    options: dict[str, Any] = {}
    if out_format == "JPEG":
        sampling = JpegImagePlugin.get_sampling(image)  # 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0; -1 grey or CMYK
        if sampling >= 0:
            options["subsampling"] = sampling
        if image.info.get("progressive") or image.info.get("progression"):
            options["progressive"] = True
    if out_format == "TIFF":
        compression = image.info.get("compression")
        options["compression"] = compression if compression in _TIFF_KEPT else "tiff_adobe_deflate"
    return options


def _check_pixels(width: int, height: int, n_frames: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise UnsupportedImageError("image has no pixels")
    pixels = width * height * n_frames
    if pixels > max_pixels:
        frames = f" x {n_frames} frames" if n_frames > 1 else ""
        raise ImageTooLargeError(f"image is {width}x{height}{frames} = {pixels} pixels; the limit is {max_pixels}")


def _colour_key(image: Image.Image) -> int | tuple[int, ...] | None:
    """A grey or RGB frame's transparent colour (PNG tRNS) in the values Pillow decodes it to, or None.

    Pillow keeps the key as stored: 2/4-bit grey is scaled here as Pillow scales the pixels; 16-bit RGB keeps
    only its high bytes (as Pillow's pixels do), so a colour differing only in its low byte also goes transparent.
    """
    key = image.info.get("transparency")
    if image.mode not in ("1", "L", "I;16", "RGB") or not isinstance(key, int | tuple):
        return None
    tiles = getattr(image, "tile", None)  # an ImageFile's pending decode (its args are the PNG raw mode)
    rawmode = tiles[0].args if image.format == "PNG" and tiles else None
    if isinstance(key, int):
        return key * _PNG_KEY_SCALE.get(rawmode, 1) if isinstance(rawmode, str) else key
    if rawmode == "RGB;16B":
        return tuple(int(value) >> 8 for value in key)
    return tuple(int(value) for value in key)


def _key_alpha(frame: Image.Image, key: int | tuple[int, ...]) -> AlphaImage | None:
    values = np.asarray(frame)
    if frame.mode == "1":
        values = values.astype(np.uint8) * 255
    if values.ndim == 3 and isinstance(key, tuple) and len(key) == values.shape[2]:
        # int64: a malformed key (300 on 8-bit samples) matches nothing rather than overflow the pixels' dtype
        transparent = np.all(values == np.asarray(key, dtype=np.int64), axis=2)
    elif values.ndim == 2 and isinstance(key, int):
        transparent = values == key
    else:
        return None  # a key that does not fit the pixels (a malformed file): the picture stays opaque
    return np.where(transparent, 0, 255).astype(np.uint8)


def _to_rgb(frame: Image.Image, key: int | tuple[int, ...] | None = None) -> tuple[RGBImage, AlphaImage | None]:
    """A frame as RGB uint8 plus its alpha; hidden colour under transparent pixels is kept (and detected on)."""
    mode = frame.mode
    keyed = _key_alpha(frame, key) if key is not None else None
    if mode in _GREY_MODES:
        grey = _grey8(frame)
        return np.repeat(grey[:, :, None], 3, axis=2), keyed
    if keyed is not None:
        return np.asarray(frame.convert("RGB")).copy(), keyed
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
        mode = "LA" if has_alpha else "L"
    elif source_mode in ("LA", "La"):
        mode = "LA"
    else:
        mode = "RGBA" if has_alpha else "RGB"
    if mode not in WRITABLE_MODES[out_format]:
        mode = "RGBA" if has_alpha and "RGBA" in WRITABLE_MODES[out_format] else "RGB"
    return mode


def _matching_icc(icc: object, output_mode: str) -> bytes | None:
    """Keep the ICC profile only when its colour space is the output's (a CMYK profile on RGB would be wrong)."""
    if not isinstance(icc, bytes) or len(icc) < 20:
        return None
    space = icc[16:20]
    wanted = b"GRAY" if output_mode in ("L", "LA") else b"RGB "
    return icc if space == wanted else None

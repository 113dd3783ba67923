"""Bounded decode to upright RGB frames.

``decode`` checks the byte size, then opens the header only (Pillow reads no pixel data on ``Image.open``) and
checks the pixel count of every frame against ``max_pixels`` before that frame is decoded. EXIF orientation is
applied to every frame (image_orientation.upright), so detection and masks work in the upright pixels the viewer
sees. Mode changes, all documented in the README:

* greyscale (1, L, I, I;16, F) becomes 8-bit L (16-bit keeps its high byte); LA stays LA;
* palette (P) becomes RGB, or RGBA when it has transparency (GIF keeps a palette: GIF cannot hold RGB);
* CMYK, YCbCr, LAB and other colour modes become RGB (the input's CMYK ICC profile is dropped);
* MPO (JPEG with extra pictures, common from phone cameras) becomes a JPEG of the primary picture only.
"""

import io
import warnings
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from .errors import FaceAnonError, ImageTooLargeError, PayloadTooLargeError, UnsupportedImageError
from .image_formats import (
    DECODE_ERRORS,
    FORMATS,
    MAX_FRAMES,
    MULTI_FRAME_FORMATS,
    OPENABLE,
    WRITABLE_MODES,
    AlphaImage,
    DecodedImage,
    RGBImage,
)
from .image_orientation import upright

_TIFF_COMPRESSIONS: Final = frozenset({"raw", "tiff_lzw", "tiff_adobe_deflate", "packbits"})
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
                return _decode_open(image, max_pixels=max_pixels)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"image has too many pixels (the limit is {max_pixels})") from exc
    except FaceAnonError:
        raise
    except UnidentifiedImageError as exc:
        raise UnsupportedImageError(
            "not an image in a supported format (JPEG, PNG, WebP, GIF, TIFF, BMP, AVIF, HEIC)"
        ) from exc
    except DECODE_ERRORS as exc:
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
        frame = upright(image)
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

"""Encode with no metadata.

``encode`` builds fresh Pillow images from the (masked) arrays, so nothing of the input's metadata can come
along: no EXIF (GPS, serials, the EXIF thumbnail), XMP, IPTC or comments; only an ICC profile that still
matches the output's colour space. The output has the input's format, size, frame count, frame durations,
disposal methods, loop count and alpha, JPEG chroma subsampling and TIFF compression (where lossless), and is
upright (there is no orientation tag). Animated GIF, APNG and WebP are written by image_animation.py, which
never merges identical frames.
"""

import io
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from .errors import UnsupportedImageError
from .image_animation import write_apng, write_gif, write_webp
from .image_formats import LOSSY_FORMATS, PNG_COMPRESS_LEVEL, AlphaImage, DecodedImage, RGBImage


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
    try:
        if len(pictures) > 1 and image.format in ("GIF", "PNG", "WEBP"):
            return _animation(image, pictures, quality, png_compress_level)
        options = _save_options(image, quality, png_compress_level)
        if len(pictures) > 1:  # TIFF pages, AVIF frames, HEIF images: their writers keep every one
            options.update(save_all=True, append_images=pictures[1:])
            if image.format == "AVIF" and all(d is not None for d in image.durations):
                options["duration"] = [round(d or 0) for d in image.durations]
            if image.format == "AVIF" and image.loop is not None:
                options["loop"] = image.loop
        buffer = io.BytesIO()
        pictures[0].save(buffer, format=image.format, **options)
    except (OSError, ValueError, KeyError, OverflowError, struct.error) as exc:
        raise UnsupportedImageError(f"cannot write the result as {image.format}") from exc
    return buffer.getvalue()


def _animation(image: DecodedImage, pictures: list[Image.Image], quality: int, png_compress_level: int) -> bytes:
    durations = image.durations or (None,) * len(pictures)
    disposals = image.disposals or (0,) * len(pictures)
    if image.format == "GIF":
        return write_gif(pictures, durations, disposals, image.loop)
    if image.format == "PNG":
        return write_apng(
            pictures,
            durations,
            disposals,
            image.loop,
            default_image=image.default_image,
            compress_level=png_compress_level,
            icc_profile=image.icc_profile,
        )
    lossless = bool(image.save_options.get("lossless"))
    return write_webp(
        pictures, durations, image.loop, quality=quality, lossless=lossless, icc_profile=image.icc_profile
    )


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

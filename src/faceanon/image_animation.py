"""Animated GIF, APNG and WebP written frame by frame: every frame kept, whole, with its own duration and disposal.

Pillow's writers (and libwebp's animation encoder) merge identical consecutive frames into one longer frame, so
an animation would come back with fewer frames than the input and than the result reports. These writers put
each (already composed, masked) frame in the file whole, at offset 0, 0, using Pillow only to compress single
pictures:

* GIF: the input's disposal method per frame, a local colour table per frame, transparency as one index;
* APNG: the input's disposal per frame, blend "source" (the frame replaces the canvas: it is already composed),
  the default image (shown by viewers without APNG support) kept out of the animation when it was out of it;
* WebP: every frame a key frame drawn without blending and not disposed (the frames are already composed).

A whole composed frame over the input's disposal shows exactly that frame: where it is transparent, the canvas
under it is transparent too (it was in the input), so nothing of an earlier frame shows through.
"""

import io
import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
from PIL import GifImagePlugin, Image

from .errors import UnsupportedImageError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_APNG_BLEND_SOURCE = 0
_WEBP_MAX_DURATION = (1 << 24) - 1


def write_gif(
    pictures: Sequence[Image.Image], durations: Sequence[float | None], disposals: Sequence[int], loop: int | None
) -> bytes:
    """An animated GIF of these L/RGB/RGBA pictures (quantised to at most 256 colours each)."""
    frames = [_gif_palette(picture) for picture in pictures]
    first, first_transparency = frames[0]
    info: dict[str, object] = {"loop": loop, "duration": 1}  # "duration": GIF89a (needed for delays)
    if first_transparency is not None:
        info["transparency"] = first_transparency
    header, _ = GifImagePlugin.getheader(first.copy(), None, info)
    out = [*header]
    for index, ((frame, transparency), duration, disposal) in enumerate(zip(frames, durations, disposals, strict=True)):
        params: dict[str, object] = {"duration": duration or 0, "disposal": disposal, "include_color_table": index > 0}
        if transparency is not None:
            params["transparency"] = transparency
        out += GifImagePlugin.getdata(frame, (0, 0), **params)
    out.append(b";")
    return b"".join(bytes(part) for part in out)


def _gif_palette(picture: Image.Image) -> tuple[Image.Image, int | None]:
    """The picture as P and its transparent index; exact when it has at most 255 colours (a GIF frame has)."""
    if picture.mode != "RGBA":
        return picture.convert("RGB").quantize(256), None
    rgba = np.asarray(picture)
    hidden = rgba[:, :, 3] < 128  # GIF transparency is all or nothing
    rgb = np.ascontiguousarray(rgba[:, :, :3])
    visible = rgb[~hidden]
    rgb[hidden] = visible[0] if len(visible) else 0  # hidden colours would take palette entries for nothing
    paletted = Image.fromarray(rgb).quantize(255)
    colours = paletted.getpalette() or []
    transparent = len(colours) // 3
    indices = np.asarray(paletted).copy()
    indices[hidden] = transparent
    frame = Image.frombytes("P", paletted.size, indices.tobytes())
    frame.putpalette([*colours, 0, 0, 0])
    return frame, transparent


def write_apng(
    pictures: Sequence[Image.Image],
    durations: Sequence[float | None],
    disposals: Sequence[int],
    loop: int | None,
    *,
    default_image: bool,
    compress_level: int,
    icc_profile: bytes | None,
) -> bytes:
    """An APNG of these same-mode pictures; with default_image, the first is the default image, not a frame."""
    stills = [
        _png_chunks(_png(picture, compress_level, icc_profile if i == 0 else None))
        for i, picture in enumerate(pictures)
    ]
    head = [chunk for chunk in stills[0] if chunk[0] not in (b"IDAT", b"IEND")]  # IHDR, iCCP
    if any(still[0] != stills[0][0] for still in stills):
        raise UnsupportedImageError("frames of different sizes or modes cannot be written as APNG")
    animated = len(pictures) - (1 if default_image else 0)
    out = [_PNG_SIGNATURE, *(_png_chunk(kind, data) for kind, data in head)]
    out.append(_png_chunk(b"acTL", struct.pack(">II", animated, loop or 0)))
    sequence = 0
    for index, (still, duration, disposal) in enumerate(zip(stills, durations, disposals, strict=True)):
        idat = [data for kind, data in still if kind == b"IDAT"]
        if not (default_image and index == 0):
            width, height = pictures[index].size
            numerator, denominator = _apng_delay(duration)
            control = struct.pack(
                ">IIIIIHHBB",
                sequence,
                width,
                height,
                0,
                0,
                numerator,
                denominator,
                min(disposal, 2),
                _APNG_BLEND_SOURCE,
            )
            out.append(_png_chunk(b"fcTL", control))
            sequence += 1
        if index == 0:  # the first picture (default image or frame 0) is the IDAT, for viewers without APNG
            out += [_png_chunk(b"IDAT", data) for data in idat]
            continue
        for data in idat:
            out.append(_png_chunk(b"fdAT", struct.pack(">I", sequence) + data))
            sequence += 1
    out.append(_png_chunk(b"IEND", b""))
    return b"".join(out)


def _png(picture: Image.Image, compress_level: int, icc_profile: bytes | None) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {"compress_level": compress_level}
    if icc_profile:
        options["icc_profile"] = icc_profile
    picture.save(buffer, "PNG", **options)
    return buffer.getvalue()


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 12 + length
    return chunks


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _apng_delay(duration: float | None) -> tuple[int, int]:
    """A duration in ms as the fraction of a second APNG stores (33.33 ms -> 1/30)."""
    delay = Fraction(max(duration or 0.0, 0.0) / 1000).limit_denominator(65535)
    if delay.numerator > 65535:
        raise UnsupportedImageError("a frame duration is too long for APNG")
    return delay.numerator, delay.denominator


def write_webp(
    pictures: Sequence[Image.Image],
    durations: Sequence[float | None],
    loop: int | None,
    *,
    quality: int,
    lossless: bool = False,
    icc_profile: bytes | None,
) -> bytes:
    """An animated WebP of these RGB/RGBA pictures, each a still at this quality (lossless: exact)."""
    width, height = pictures[0].size
    has_alpha = any(picture.mode == "RGBA" for picture in pictures)
    frames = []
    for picture, duration in zip(pictures, durations, strict=True):
        buffer = io.BytesIO()
        picture.save(buffer, "WEBP", quality=quality, method=4, lossless=lossless)
        bitstream = b"".join(
            _riff_chunk(kind, data)
            for kind, data in _riff_chunks(buffer.getvalue())
            if kind in (b"ALPH", b"VP8 ", b"VP8L")
        )
        milliseconds = min(round(duration or 0), _WEBP_MAX_DURATION)
        place = _u24(0) + _u24(0) + _u24(picture.width - 1) + _u24(picture.height - 1) + _u24(milliseconds)
        frames.append(_riff_chunk(b"ANMF", place + bytes([0b10]) + bitstream))  # no blending, no disposal
    flags = 0x02 | (0x10 if has_alpha else 0) | (0x20 if icc_profile else 0)  # animation, alpha, ICC
    body = _riff_chunk(b"VP8X", bytes([flags]) + bytes(3) + _u24(width - 1) + _u24(height - 1))
    if icc_profile:
        body += _riff_chunk(b"ICCP", icc_profile)
    body += _riff_chunk(b"ANIM", bytes(4) + struct.pack("<H", loop or 0)) + b"".join(frames)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 12
    while position + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[position : position + 8])
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 8 + length + (length & 1)
    return chunks


def _riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")


def _u24(value: int) -> bytes:
    return struct.pack("<I", value)[:3]

"""Image files assembled from their chunks, for the cases Pillow's writers would not make (or would "fix").

Pillow's GIF and APNG writers merge identical consecutive frames and can place no frame at an offset, so
``raw_gif`` and ``raw_apng`` write frames as given; PNG chunks take raw sample values (tRNS keys as stored);
``riff_chunk`` builds WebP containers. Only single still pictures are compressed by Pillow.
"""

import io
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image


def save(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def raw_gif(
    frames: Sequence[npt.NDArray[np.uint8]],
    palette: npt.NDArray[np.uint8],
    *,
    delays_cs: Sequence[int],
    disposals: Sequence[int],
    transparency: int | None,
    loop: int | None = 0,
    places: Sequence[tuple[int, int]] | None = None,
    screen: tuple[int, int] | None = None,
    claims: Sequence[tuple[int, int] | None] | None = None,
) -> bytes:
    """A GIF of these index frames (H x W uint8) at places (x, y) on the screen, one global 256-colour palette;
    claims (width, height) per frame makes a frame's descriptor lie about its size."""
    height, width = frames[0].shape
    screen_w, screen_h = screen or (width, height)
    out = [b"GIF89a", struct.pack("<HHBBB", screen_w, screen_h, 0xF7, 0, 0), palette.astype(np.uint8).tobytes()]
    if loop is not None:
        out.append(b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\0")
    for index, indices in enumerate(frames):
        x, y = places[index] if places else (0, 0)
        flags = (disposals[index] << 2) | (1 if transparency is not None else 0)
        out.append(b"!\xf9\x04" + struct.pack("<BHB", flags, delays_cs[index], transparency or 0) + b"\0")
        image = _gif_image(indices, palette, x, y)
        claim = claims[index] if claims else None
        out.append(image if claim is None else image[:5] + struct.pack("<HH", *claim) + image[9:])
    out.append(b";")
    return b"".join(out)


def _gif_image(indices: npt.NDArray[np.uint8], palette: npt.NDArray[np.uint8], x: int, y: int) -> bytes:
    """Image descriptor + LZW data of one frame, cut from a still GIF Pillow writes with this palette."""
    still = Image.frombytes("P", (indices.shape[1], indices.shape[0]), np.ascontiguousarray(indices).tobytes())
    still.putpalette(palette.tobytes())
    data = save(still, "GIF", optimize=False)
    start = 13 + 768  # header, screen descriptor, the 256-entry global palette
    assert data[start : start + 1] == b",", "Pillow wrote something before the image descriptor"
    return b"," + struct.pack("<HH", x, y) + data[start + 5 : -1]


def cube_palette() -> npt.NDArray[np.uint8]:
    """256 colours: a colour cube, red (the FakeDetector's marker) at 250, index 255 is the transparent one."""
    levels = np.linspace(0, 255, 6).astype(np.uint8)
    cube = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(cube)] = cube
    palette[250] = (255, 0, 0)
    return palette.reshape(-1)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header(width: int, height: int, depth: int, colour: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))


def png_rows(rgba: npt.NDArray[np.uint8]) -> bytes:
    """Filter byte 0 before every row of 8-bit samples."""
    flat = rgba.reshape(rgba.shape[0], -1)
    return zlib.compress(b"".join(b"\0" + row.tobytes() for row in flat))


@dataclass(frozen=True)
class ApngFrame:
    rgba: npt.NDArray[np.uint8]  # H x W x 4
    x: int = 0
    y: int = 0
    delay: tuple[int, int] = (1, 10)  # numerator, denominator (seconds)
    dispose: int = 0
    blend: int = 0


def raw_apng(
    width: int, height: int, frames: Sequence[ApngFrame], default: npt.NDArray[np.uint8] | None = None
) -> bytes:
    """An RGBA APNG; with default, a default image that is not part of the animation comes first."""
    out = [png_header(width, height, 8, 6), png_chunk(b"acTL", struct.pack(">II", len(frames), 0))]
    sequence = 0
    if default is not None:
        out.append(png_chunk(b"IDAT", png_rows(default)))
    for index, frame in enumerate(frames):
        h, w = frame.rgba.shape[:2]
        control = struct.pack(">IIIIIHHBB", sequence, w, h, frame.x, frame.y, *frame.delay, frame.dispose, frame.blend)
        out.append(png_chunk(b"fcTL", control))
        sequence += 1
        if index == 0 and default is None:
            out.append(png_chunk(b"IDAT", png_rows(frame.rgba)))
        else:
            out.append(png_chunk(b"fdAT", struct.pack(">I", sequence) + png_rows(frame.rgba)))
            sequence += 1
    out.append(png_chunk(b"IEND", b""))
    return b"".join(out)


def pack_bits(samples: npt.NDArray[np.uint8], depth: int) -> bytes:
    per_byte = 8 // depth
    rows = []
    for row in samples:
        padded = np.concatenate([row, np.zeros((-len(row)) % per_byte, np.uint8)]).reshape(-1, per_byte)
        shifts = np.arange(per_byte - 1, -1, -1) * depth
        rows.append(b"\0" + (padded.astype(np.uint16) << shifts).sum(axis=1).astype(np.uint8).tobytes())
    return zlib.compress(b"".join(rows))


def riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")

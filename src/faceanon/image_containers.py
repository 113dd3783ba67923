"""What faceanon reads from a file's container bytes itself, before (or beside) Pillow.

``gif_canvas``: the largest canvas a GIF grows to, read from its block structure before Pillow seeks.

Pillow grows a GIF's canvas to hold any frame that reaches past the logical screen, and allocates that frame's
disposal area while *seeking* to it, before faceanon can look at the frame's size: a 30 x 20 GIF whose 14th frame
claims 18502 x 43485 made one seek allocate 3 GB (found by atheris). Pillow's own bomb guard only refuses twice
its 500 MP limit. So decode checks this canvas against the pixel limit first.

``webp_lossless``: whether a WebP's pictures are all lossless (VP8L), which Pillow does not report, so that a
lossless input is written back lossless.
"""

import struct

_TRAILER = 0x3B
_EXTENSION = 0x21
_IMAGE = 0x2C


def gif_canvas(data: bytes) -> tuple[int, int]:
    """(width, height) of the logical screen grown to every image descriptor's extent, walking the blocks as
    Pillow does (unknown bytes skipped one by one) up to the trailer or the end of the data."""
    if len(data) < 13:
        return 0, 0
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    position = 13 + _colour_table_size(flags)
    while position < len(data):
        kind = data[position]
        if kind == _IMAGE and position + 10 <= len(data):
            x, y, w, h, image_flags = struct.unpack_from("<HHHHB", data, position + 1)
            width, height = max(width, x + w), max(height, y + h)
            position += 10 + _colour_table_size(image_flags) + 1  # descriptor, colour table, LZW code size
            position = _skip_sub_blocks(data, position)
        elif kind == _EXTENSION:
            position = _skip_sub_blocks(data, position + 2)
        elif kind == _TRAILER:
            break
        else:
            position += 1  # Pillow skips an unknown byte, so must this scan
    return width, height


def _colour_table_size(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(data: bytes, position: int) -> int:
    """The position after a chain of sub-blocks (length byte, data), ended by a zero length."""
    while position < len(data):
        length = data[position]
        position += 1 + length
        if length == 0:
            break
    return position


def webp_lossless(data: bytes) -> bool:
    """True when every picture of this WebP (still or animated) is VP8L (lossless), none VP8 (lossy)."""
    kinds = _riff_kinds(data, 12, len(data))
    return b"VP8L" in kinds and b"VP8 " not in kinds


def _riff_kinds(data: bytes, start: int, end: int) -> set[bytes]:
    """The FourCCs of the RIFF chunks between start and end, and of the chunks inside ANMF frames."""
    kinds: set[bytes] = set()
    position = start
    while position + 8 <= end:
        kind = data[position : position + 4]
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        kinds.add(kind)
        if kind == b"ANMF":  # 16 bytes of frame placement and timing, then the frame's own chunks
            kinds |= _riff_kinds(data, position + 24, min(position + 8 + length, end))
        position += 8 + length + (length & 1)
    return kinds

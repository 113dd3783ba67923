"""Hostile-input corpus, generated (no binaries in the repo): image payloads and API request bodies.

``image_cases()`` gives every image payload with the API status it must get (a set when more than one answer
is right, e.g. a JPEG whose last bytes are cut may still decode) and the queue path's typed error;
``request_cases()`` gives API request bodies around one valid image. Everything is built from seeds and
synthetic pixels, so the corpus is the same on every run. ``python -m hostile.corpus DIR`` (from tests/)
writes the image payloads out, to feed them to something else.
"""

import base64
import io
import json
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from faceanon.errors import (
    FaceAnonError,
    ImageTooLargeError,
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedImageError,
)
from hostile import odd_images

OK, BAD_REQUEST, TOO_BIG, UNSUPPORTED, TOO_MANY_PIXELS = 200, 400, 413, 415, 422
ERRORS: dict[int, type[FaceAnonError]] = {
    BAD_REQUEST: InvalidRequestError,
    TOO_BIG: PayloadTooLargeError,
    UNSUPPORTED: UnsupportedImageError,
    TOO_MANY_PIXELS: ImageTooLargeError,
}

# EXIF values planted in the "private" photo: none of them may ever show up in an output, a log or a response.
MAKER_NOTE_MARK = "MAKERNOTE-7f3a9c-SECRET"
EXIF_SECRETS = {
    "make": "LeakyCam",
    "model": "Spy-9000",
    "artist": "Jane Q. Private",
    "serial": "SN-4471-PRIVATE",
    "gps_date": "2024:05:06",
    "maker_note": MAKER_NOTE_MARK,
}
GPS_LATITUDE = (12.0, 34.0, 56.789)


@dataclass(frozen=True)
class ImageCase:
    name: str
    data: bytes
    api: frozenset[int]  # acceptable API statuses (200: a valid image; it must come back as one)
    content_type: str = "image/jpeg"  # sent with a raw (binary) request
    queue: frozenset[type[FaceAnonError]] = field(default_factory=frozenset)  # empty: derived from api

    @property
    def valid(self) -> bool:
        return OK in self.api

    @property
    def queue_errors(self) -> frozenset[type[FaceAnonError]]:
        return self.queue or frozenset(ERRORS[status] for status in self.api if status != OK)


@dataclass(frozen=True)
class RequestCase:
    name: str
    build: Callable[[bytes], dict[str, Any]]  # valid image bytes -> API Gateway proxy event
    api: frozenset[int]
    message: str = ""  # a part of the error message that must be there (clear 4xx)


def _case(name: str, data: bytes, *statuses: int, content_type: str = "image/jpeg") -> ImageCase:
    return ImageCase(name, data, frozenset(statuses), content_type)


# ------------------------------------------------------------------ building blocks


def _pixels(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth gradient with some seeded noise: compresses like a photo, never all one colour."""
    rng = np.random.default_rng(seed)
    ys = np.linspace(30, 220, height)[:, None]
    xs = np.linspace(30, 220, width)[None, :]
    base = np.stack([ys + 0 * xs, 0 * ys + xs, (ys + xs) / 2], axis=2)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def _save(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _rgb(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(_pixels(width, height, seed))


@cache
def base_jpeg() -> bytes:
    return _save(_rgb(96, 64), "JPEG", quality=85)


@cache
def base_png() -> bytes:
    return _save(_rgb(96, 64), "PNG")


def _chunk(kind: bytes, payload: bytes, crc: int | None = None) -> bytes:
    value = zlib.crc32(kind + payload) if crc is None else crc
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", value & 0xFFFFFFFF)


def _png(width: int, height: int, idat: bytes, *, bit_depth: int = 8, colour: int = 0) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def png_bomb(side: int = 30000) -> bytes:
    """A real side x side 8-bit grey PNG of zeros (~0.9 MB holding ~900 MB of pixels), built in ~0.1 s.

    Rows are deflated in blocks ended by a full flush, so every block after the first compresses to the same
    bytes and is repeated instead of compressed again; the zlib trailer is the Adler-32 of all those zeros.
    """
    rows_per_block = 1000
    block = b"\0" * ((side + 1) * rows_per_block)  # filter byte 0 + side grey pixels per row
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(side, rows_per_block)
    tail = compressor.compress(b"\0" * ((side + 1) * rest)) + compressor.flush(zlib.Z_FINISH)
    total = (side + 1) * side
    adler = ((total % 65521) << 16) | 1  # Adler-32 of `total` zero bytes: a = 1, b = total
    stream = first + repeat * (blocks - 1) + tail[:-4] + struct.pack(">I", adler)
    return _png(side, side, stream)


def _jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its SOF0/SOF2 frame header rewritten to claim width x height."""
    position = 2
    while position + 4 <= len(data):
        marker = data[position + 1]
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        if marker in (0xC0, 0xC2):
            start = position + 5  # after marker (2), length (2) and precision (1)
            return data[:start] + struct.pack(">HH", height, width) + data[start + 4 :]
        position += 2 + length
    raise ValueError("no SOF segment")


def _scan_start(data: bytes) -> int:
    """Offset of the first byte of entropy-coded data (after the SOS segment)."""
    position = 2
    while position + 4 <= len(data):
        marker = data[position + 1]
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        if marker == 0xDA:
            return position + 2 + length
        position += 2 + length
    raise ValueError("no SOS segment")


def gif_huge_screen() -> bytes:
    """A GIF whose logical screen is 65535 x 65535, holding a single 1 x 1 image."""
    header = b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0x80, 0, 0)  # global colour table, 2 entries
    palette = b"\x00\x00\x00\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return header + palette + image + b"\x3b"


def tiff_huge() -> bytes:
    """A little-endian TIFF whose IFD claims 100000 x 100000 grey pixels (and holds 8 bytes of strip)."""
    entries = [
        (256, 4, 1, 100000),  # ImageWidth
        (257, 4, 1, 100000),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 8 + 2 + 8 * 12 + 4),  # StripOffsets: right after the IFD
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, 100000),  # RowsPerStrip
    ]
    return b"II*\0" + struct.pack("<I", 8) + _ifd(entries, next_ifd=0) + b"\0" * 8


def tiff_page_without_size() -> bytes:
    """A valid 1 x 1 TIFF page followed by a second page with no width or height (found by the fuzzer)."""
    first = [(256, 4, 1, 1), (257, 4, 1, 1), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (277, 3, 1, 1)]
    first_size = 2 + 12 * (len(first) + 2) + 4  # + StripOffsets and StripByteCounts
    strip_at = 8 + first_size
    second_at = strip_at + 2
    first += [(273, 4, 1, strip_at), (279, 4, 1, 1)]
    second = [(258, 3, 1, 8), (262, 3, 1, 1)]
    return (
        b"II*\0" + struct.pack("<I", 8) + _ifd(sorted(first), next_ifd=second_at) + b"\x80\0" + _ifd(second, next_ifd=0)
    )


def _ifd(entries: list[tuple[int, int, int, int]], *, next_ifd: int) -> bytes:
    data = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
        data += struct.pack("<HHI", tag, kind, count) + packed
    return data + struct.pack("<I", next_ifd)


def bmp_huge() -> bytes:
    """A BMP header claiming 60000 x 60000 24-bit pixels, followed by a few bytes."""
    info = struct.pack("<IiiHHIIiiII", 40, 60000, 60000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    header = b"BM" + struct.pack("<IHHI", 14 + len(info) + 16, 0, 0, 14 + len(info))
    return header + info + b"\0" * 16


def private_exif(orientation: int = 1, maker_note_bytes: int = 60_000) -> Image.Exif:
    """EXIF with orientation, camera make/model/serial, artist, GPS position and a large maker note."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = EXIF_SECRETS["make"]
    exif[0x0110] = EXIF_SECRETS["model"]
    exif[0x013B] = EXIF_SECRETS["artist"]
    sub = exif.get_ifd(0x8769)
    sub[0xA431] = EXIF_SECRETS["serial"]
    note = (MAKER_NOTE_MARK + "-").encode() * (maker_note_bytes // (len(MAKER_NOTE_MARK) + 1) + 1)
    sub[0x927C] = note[:maker_note_bytes]
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = GPS_LATITUDE
    gps[3] = "E"
    gps[4] = (98.0, 7.0, 6.5)
    gps[29] = EXIF_SECRETS["gps_date"]
    return exif


def private_photo(size: tuple[int, int] = (160, 120), orientation: int = 1) -> bytes:
    """A JPEG carrying private EXIF: GPS, serial, artist and a 60 KB maker note."""
    return _save(_rgb(*size, seed=3), "JPEG", quality=90, exif=private_exif(orientation).tobytes())


def _animated_gif(frames: int, size: int = 8) -> bytes:
    """Every frame differs from the one before (GIF writers merge identical neighbours)."""
    pictures = []
    for index in range(frames):
        grey = np.full((size, size), 60, np.uint8)
        grey[0, 0], grey[-1, -1] = index % 256, index // 256 * 40
        pictures.append(Image.fromarray(grey).convert("P"))
    return _save(pictures[0], "GIF", save_all=True, append_images=pictures[1:], duration=20, loop=0)


def gif_identical_frames_longest_delay() -> bytes:
    """Two identical frames of the longest GIF delay (655.35 s): merged, their delays would overflow the field."""
    single = _save(Image.new("P", (2, 2), 1), "GIF")
    start = single.index(b"\x2c")  # image descriptor (Pillow writes no extension for a still 2 x 2 picture)
    header, picture = single[:start], single[start:-1]
    delay = b"\x21\xf9\x04\x00" + struct.pack("<H", 65535) + b"\x00\x00"
    return header + (delay + picture) * 2 + b"\x3b"


def _zip_archive() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("payload.sh", "#!/bin/sh\necho polyglot\n")
    return buffer.getvalue()


def _flip_bits(data: bytes, start: int, count: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    array = bytearray(data)
    for position in rng.integers(start, len(data) - 2, size=count):
        array[int(position)] ^= 1 << int(rng.integers(0, 8))
    return bytes(array)


# ------------------------------------------------------------------ the corpus


@cache
def image_cases() -> tuple[ImageCase, ...]:
    jpeg, png = base_jpeg(), base_png()
    scan = _scan_start(jpeg)
    rng = np.random.default_rng(1234)
    cases = [
        # Not images at all, behind image names and content types.
        # The API refuses an empty body (400); the queue path reads the empty object and cannot decode it.
        ImageCase("zero_bytes", b"", frozenset({BAD_REQUEST}), queue=frozenset({UnsupportedImageError})),
        _case("random_bytes", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(), UNSUPPORTED),
        _case("text", b"Hello, this is plain text pretending to be a photo.\n" * 20, UNSUPPORTED),
        _case("html", b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>", UNSUPPORTED),
        _case("json", json.dumps({"image": "not really", "n": list(range(50))}).encode(), UNSUPPORTED),
        _case("pdf", b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n", UNSUPPORTED),
        _case(
            "svg",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b'<script>alert(1)</script><rect width="10" height="10"/></svg>',
            UNSUPPORTED,
            content_type="image/svg+xml",
        ),
        _case("eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", UNSUPPORTED),
        _case("jpeg_magic_only", b"\xff\xd8\xff", UNSUPPORTED),
        # Truncated and corrupt.
        _case("jpeg_truncated_16", jpeg[:16], UNSUPPORTED),
        _case("jpeg_truncated_headers", jpeg[:scan], UNSUPPORTED),
        _case("jpeg_truncated_half", jpeg[: len(jpeg) // 2], UNSUPPORTED),
        _case("jpeg_truncated_no_eoi", jpeg[:-2], OK, UNSUPPORTED),  # libjpeg tolerates a missing EOI marker
        _case("png_truncated_signature", png[:8], UNSUPPORTED, content_type="image/png"),
        _case("png_truncated_ihdr", png[:33], UNSUPPORTED, content_type="image/png"),
        _case("png_truncated_half", png[: len(png) // 2], UNSUPPORTED, content_type="image/png"),
        _case("png_truncated_no_iend", png[:-12], OK, UNSUPPORTED, content_type="image/png"),
        _case("jpeg_bit_flipped_scan", _flip_bits(jpeg, scan, 40, seed=7), OK, UNSUPPORTED),
        _case("png_bit_flipped_idat", _flip_bits(png, 41, 40, seed=8), UNSUPPORTED, OK, content_type="image/png"),
        _case(
            "png_bad_ihdr_crc",
            png[:8] + _chunk(b"IHDR", png[16:29], crc=0xDEADBEEF) + png[33:],
            UNSUPPORTED,
            content_type="image/png",
        ),
        _case("png_zero_width", _png(0, 10, zlib.compress(b"\0" * 10)), UNSUPPORTED, content_type="image/png"),
        _case("png_zero_height", _png(10, 0, zlib.compress(b"")), UNSUPPORTED, content_type="image/png"),
        # Decompression bombs and lying headers.
        _case("png_bomb_30000x30000", png_bomb(), TOO_MANY_PIXELS, content_type="image/png"),
        _case("gif_screen_65535x65535", gif_huge_screen(), TOO_MANY_PIXELS, content_type="image/gif"),
        _case("jpeg_header_65000x65000", _jpeg_with_size(jpeg, 65000, 65000), TOO_MANY_PIXELS),
        _case("tiff_header_100000x100000", tiff_huge(), TOO_MANY_PIXELS, content_type="image/tiff"),
        _case("bmp_header_60000x60000", bmp_huge(), TOO_MANY_PIXELS, UNSUPPORTED, content_type="image/bmp"),
        _case("tiff_page_without_size", tiff_page_without_size(), UNSUPPORTED, content_type="image/tiff"),
        # Pillow's writer merged these by adding their delays (overflow); faceanon writes every frame as it came.
        _case("gif_identical_frames_longest_delay", gif_identical_frames_longest_delay(), OK, content_type="image/gif"),
        _case("gif_1001_frames", _animated_gif(1001, size=2), TOO_MANY_PIXELS, content_type="image/gif"),
        # Odd but valid images.
        _case("png_1x1", _save(_rgb(1, 1), "PNG"), OK, content_type="image/png"),
        _case("jpeg_1x1", _save(_rgb(1, 1), "JPEG"), OK),
        _case("png_1x20000", _save(_rgb(1, 20000), "PNG"), OK, content_type="image/png"),
        _case("png_20000x1", _save(_rgb(20000, 1), "PNG"), OK, content_type="image/png"),
        _case(
            "png_grey_16bit",
            _save(Image.fromarray(_pixels(64, 48)[:, :, 0].astype(np.uint16) * 257), "PNG"),
            OK,
            content_type="image/png",
        ),
        _case("jpeg_cmyk", _save(_rgb(64, 48).convert("CMYK"), "JPEG"), OK),
        _case("tiff_cmyk", _save(_rgb(64, 48).convert("CMYK"), "TIFF"), OK, content_type="image/tiff"),
        _case("png_palette_transparency", _palette_with_transparency(), OK, content_type="image/png"),
        _case("png_la", _save(_rgb(64, 48).convert("LA"), "PNG"), OK, content_type="image/png"),
        _case("gif_animated_200_frames", _animated_gif(200), OK, content_type="image/gif"),
        _case("webp", _save(_rgb(64, 48), "WEBP"), OK, content_type="image/webp"),
        _case("bmp", _save(_rgb(64, 48), "BMP"), OK, content_type="image/bmp"),
        _case("png_sent_as_jpeg", png, OK, content_type="image/jpeg"),
        _case("jpeg_exif_gps_60kb_maker_note", private_photo(), OK),
        _case("jpeg_zip_polyglot", jpeg + _zip_archive(), OK),
        _case("jpeg_garbage_icc", _save(_rgb(64, 48), "JPEG", icc_profile=b"\x00garbage-icc" * 40), OK),
    ]
    cases += [_case(f"jpeg_exif_orientation_{o}", private_photo((64, 40), orientation=o), OK) for o in range(1, 9)]
    # Odd files from the fidelity corpus (tests/unit/test_image_fidelity.py checks their frames and pixels).
    cases += [
        _case("gif_restore_to_background", odd_images.gif_disposal(2), OK, content_type="image/gif"),
        _case("gif_identical_frames", odd_images.gif_identical_frames(), OK, content_type="image/gif"),
        _case("apng_default_image", odd_images.apng_default_image(), OK, content_type="image/png"),
        _case("apng_dispose_and_blend", odd_images.apng_dispose_and_blend(), OK, content_type="image/png"),
        _case("webp_identical_frames", odd_images.webp_identical_frames(), OK, content_type="image/webp"),
        _case("tiff_webp_compressed", odd_images.tiff_webp_compressed(), UNSUPPORTED, content_type="image/tiff"),
        _case(
            "gif_frame_beyond_screen", odd_images.gif_frame_beyond_screen(), TOO_MANY_PIXELS, content_type="image/gif"
        ),
        _case("avif_corrupt_av1", odd_images.avif_corrupt_av1(), UNSUPPORTED, content_type="image/avif"),
        _case("avif_zero_timescale", odd_images.avif_zero_timescale(), UNSUPPORTED, content_type="image/avif"),
    ]
    cases += [_case(odd.name, odd.data, OK, content_type="image/png") for odd in odd_images.png_colour_keys()]
    return tuple(cases)


def _palette_with_transparency() -> bytes:
    image = _rgb(64, 48).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return _save(image, "PNG", transparency=0)


# ------------------------------------------------------------------ request bodies


def _event(body: str | None, *, content_type: str | None = "application/json", **extra: Any) -> dict[str, Any]:
    """A minimal API Gateway REST proxy event for POST /anonymise."""
    event: dict[str, Any] = {
        "resource": "/anonymise",
        "path": "/anonymise",
        "httpMethod": "POST",
        "headers": {"Content-Type": content_type} if content_type is not None else {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"resourcePath": "/anonymise", "httpMethod": "POST", "stage": "v1", "requestId": "r"},
        "body": body,
        "isBase64Encoded": False,
    }
    event.update(extra)
    return event


def json_event(payload: Any) -> dict[str, Any]:
    return _event(json.dumps(payload))


def binary_event(data: bytes, content_type: str = "image/jpeg", **query: str) -> dict[str, Any]:
    return _event(
        base64.b64encode(data).decode(),
        content_type=content_type,
        isBase64Encoded=True,
        queryStringParameters=query or None,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _with(**fields: Any) -> Callable[[bytes], dict[str, Any]]:
    return lambda image: json_event({"image": _b64(image), **fields})


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def request_cases() -> tuple[RequestCase, ...]:
    bad = frozenset({BAD_REQUEST})
    return (
        RequestCase("valid_json", _with(), frozenset({OK})),
        RequestCase("valid_binary", lambda image: binary_event(image), frozenset({OK})),
        RequestCase(
            "valid_json_all_options",
            _with(method="blur", shape="box", mask_scale=2, threshold=0.5, return_boxes=True),
            frozenset({OK}),
        ),
        RequestCase(
            "valid_content_type_with_charset",
            lambda image: _event(json.dumps({"image": _b64(image)}), content_type="application/json; charset=utf-8"),
            frozenset({OK}),
        ),
        RequestCase("not_json", lambda image: _event("image=" + _b64(image)), bad, "not valid JSON"),
        RequestCase("json_array", lambda image: _event(json.dumps([_b64(image)])), bad, "JSON object"),
        RequestCase("json_string", lambda image: _event(json.dumps(_b64(image))), bad, "JSON object"),
        RequestCase("json_null", lambda image: _event("null"), bad, "JSON object"),
        RequestCase("nested_5000_deep", lambda image: _event(_deep(5000)), bad, "nested too deeply"),
        RequestCase(
            "nested_5000_deep_field",
            lambda image: _event('{"image": "' + _b64(image) + '", "x": ' + _deep(5000) + "}"),
            bad,
        ),
        RequestCase(
            "json_with_bom",
            lambda image: _event("\ufeff" + json.dumps({"image": _b64(image)})),
            frozenset({OK, BAD_REQUEST}),
        ),
        RequestCase("empty_body", lambda image: _event(""), bad),
        RequestCase("null_body", lambda image: _event(None), bad),
        RequestCase("missing_image", lambda image: json_event({"method": "fill"}), bad, "image"),
        RequestCase("null_image", lambda image: json_event({"image": None}), bad, "image"),
        RequestCase("number_image", lambda image: json_event({"image": 12345}), bad, "image"),
        RequestCase("list_image", lambda image: json_event({"image": [_b64(image)]}), bad, "image"),
        RequestCase("invalid_base64", lambda image: json_event({"image": "@@not base64!!"}), bad, "base64"),
        RequestCase("base64_bad_padding", lambda image: json_event({"image": _b64(image)[:-1]}), bad, "base64"),
        # Lenient decoding would be fine too (200), but never a 5xx or a silent mis-decode.
        RequestCase(
            "base64_whitespace_wrapped",
            lambda image: json_event({"image": "\n".join(_chunks(_b64(image), 76)) + "\n"}),
            frozenset({OK, BAD_REQUEST}),
            "base64",
        ),
        RequestCase(
            "base64_url_safe",
            lambda image: json_event({"image": base64.urlsafe_b64encode(image).decode()}),
            frozenset({OK, BAD_REQUEST}),
            "base64",
        ),
        RequestCase(
            "data_url",
            lambda image: json_event({"image": "data:image/jpeg;base64," + _b64(image)}),
            frozenset({OK, BAD_REQUEST}),
            "base64",
        ),
        RequestCase("unknown_mask_method", _with(method="smudge"), bad, "method"),
        RequestCase("unknown_shape", _with(shape="star"), bad, "shape"),
        RequestCase("threshold_above_range", _with(threshold=2.0), bad, "threshold"),
        RequestCase("threshold_negative", _with(threshold=-0.5), bad, "threshold"),
        RequestCase(
            "threshold_nan",
            lambda image: _event('{"image": "' + _b64(image) + '", "threshold": NaN}'),
            bad,
            "threshold",
        ),
        RequestCase(
            "threshold_infinity",
            lambda image: _event('{"image": "' + _b64(image) + '", "threshold": Infinity}'),
            bad,
            "threshold",
        ),
        RequestCase("threshold_string", _with(threshold="0.5"), bad, "threshold"),
        RequestCase("threshold_bool", _with(threshold=True), bad, "threshold"),
        RequestCase("mask_scale_zero", _with(mask_scale=0), bad, "mask_scale"),
        RequestCase("mask_scale_huge", _with(mask_scale=1e308), bad, "mask_scale"),
        RequestCase(
            "mask_scale_overflow",
            lambda image: _event('{"image": "' + _b64(image) + '", "mask_scale": 1e999}'),
            bad,
            "mask_scale",
        ),
        RequestCase("mask_scale_object", _with(mask_scale={"value": 1}), bad, "mask_scale"),
        RequestCase("return_boxes_string", _with(return_boxes="yes"), bad, "return_boxes"),
        RequestCase("extra_field", _with(colour="red"), bad, "colour"),
        RequestCase("prototype_field", _with(__proto__={"admin": True}), bad, "__proto__"),
        RequestCase("query_unknown_parameter", lambda image: binary_event(image, size="10"), bad, "size"),
        RequestCase("query_threshold_text", lambda image: binary_event(image, threshold="high"), bad, "threshold"),
        RequestCase("query_threshold_nan", lambda image: binary_event(image, threshold="nan"), bad, "threshold"),
        RequestCase("query_mask_scale_inf", lambda image: binary_event(image, mask_scale="inf"), bad, "mask_scale"),
        RequestCase(
            "binary_body_not_base64",
            lambda image: _event("***", content_type="image/jpeg", isBase64Encoded=True),
            bad,
            "base64",
        ),
        RequestCase("binary_empty", lambda image: binary_event(b""), bad),
        RequestCase(
            "content_type_text",
            lambda image: _event(json.dumps({"image": _b64(image)}), content_type="text/plain"),
            frozenset({UNSUPPORTED}),
        ),
        RequestCase(
            "content_type_missing",
            lambda image: _event(json.dumps({"image": _b64(image)}), content_type=None),
            frozenset({UNSUPPORTED}),
        ),
        RequestCase(
            "content_type_multipart",
            lambda image: _event("--x\r\n\r\n--x--", content_type=("multipart/form-data; boundary=x")),
            frozenset({UNSUPPORTED}),
        ),
        RequestCase(
            "headers_null",
            lambda image: _event(json.dumps({"image": _b64(image)}), headers=None),
            frozenset({UNSUPPORTED}),
        ),
        RequestCase(
            "body_over_api_limit",
            lambda image: json_event({"image": _b64(b"\xff\xd8" + b"\0" * 4_500_000)}),
            frozenset({TOO_BIG}),
        ),
        RequestCase(
            "invalid_utf8_body",
            lambda image: _event(base64.b64encode(b'{"image": "\xff\xfe"}').decode(), isBase64Encoded=True),
            bad,
        ),
    )


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def write(directory: Path) -> int:
    """Write every image payload to directory (name.bin); returns how many."""
    directory.mkdir(parents=True, exist_ok=True)
    for case in image_cases():
        (directory / f"{case.name}.bin").write_bytes(case.data)
    return len(image_cases())


if __name__ == "__main__":
    count = write(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus"))
    print(f"wrote {count} image payloads; {len(request_cases())} request bodies are built in memory")

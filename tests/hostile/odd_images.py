"""Odd but valid images (and a few invalid ones), the corpus tests/unit/test_image_fidelity.py runs.

Pillow's GIF/APNG writers merge identical frames and its WebP writer (libwebp) too, so the files that have them
are assembled from chunks (raw_images.py); PNG colour keys (tRNS) are written with the raw sample values; a
WebP-compressed TIFF is a TIFF whose strip is a WebP file (what libtiff writes). Public-domain sample photos
from installed packages (scikit-image's data folder) are read in place, never copied. ``odd_files()`` lists them all.
"""

import struct
import zlib
from dataclasses import dataclass
from functools import cache
from importlib import util
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

import faceanon.image_formats  # noqa: F401  (registers pillow_heif's HEIF writer, which heif_identical_images needs)
from faceanon.errors import FaceAnonError, UnsupportedImageError
from hostile.raw_images import (
    ApngFrame,
    cube_palette,
    pack_bits,
    png_chunk,
    png_header,
    png_rows,
    raw_apng,
    raw_gif,
    riff_chunk,
    save,
)


@dataclass(frozen=True)
class OddFile:
    name: str
    data: bytes
    error: type[FaceAnonError] | None = None  # None: must come back as the same picture, masked
    message: str = ""  # a part of the error message (a clear domain error)
    alpha: tuple[npt.NDArray[np.uint8], ...] | None = None  # the alpha a viewer sees, when Pillow's is wrong


def _scene(width: int, height: int, seed: int) -> npt.NDArray[np.uint8]:
    """A smooth picture (a different one per seed)."""
    ys = np.linspace(30, 220, height)[:, None]
    xs = np.linspace(30, 220, width)[None, :]
    rgb = np.stack([ys + 0 * xs + seed * 7, 0 * ys + xs, (ys + xs) / 2 + seed * 13], axis=2)
    return (rgb % 256).astype(np.uint8)


# ------------------------------------------------------------------ GIF


def gif_disposal(disposal: int) -> bytes:
    """Three frames of sprites on a transparent screen: what shows through depends on the disposal method."""
    frames = []
    for index in range(3):
        indices = np.full((24, 36), 255, np.uint8)
        indices[4:20, 2 + index * 11 : 12 + index * 11] = 20 + index * 60
        indices[2, :] = 100 + index  # a line that changes each frame: no two frames alike
        frames.append(indices)
    return raw_gif(frames, cube_palette(), delays_cs=[8, 9, 10], disposals=[disposal] * 3, transparency=255)


def gif_sub_rectangles() -> bytes:
    """Frames smaller than the screen, at offsets, restore-to-background then restore-to-previous; no loop."""
    base = np.full((30, 40), 40, np.uint8)
    small = [np.full((10, 12), 150, np.uint8), np.full((8, 8), 255, np.uint8), np.full((12, 10), 200, np.uint8)]
    return raw_gif(
        [base, *small],
        cube_palette(),
        delays_cs=[5, 6, 7, 8],
        disposals=[1, 2, 3, 1],
        transparency=255,
        loop=None,  # no NETSCAPE extension: plays once
        places=[(0, 0), (3, 4), (20, 10), (25, 15)],
        screen=(40, 30),
    )


def gif_identical_frames() -> bytes:
    """Five frames, the middle three identical: they must stay five, each with its own delay."""
    first, same = np.full((20, 30), 30, np.uint8), np.full((20, 30), 90, np.uint8)
    last = np.full((20, 30), 150, np.uint8)
    return raw_gif(
        [first, same, same, same, last],
        cube_palette(),
        delays_cs=[10, 20, 30, 40, 50],
        disposals=[1] * 5,
        transparency=None,
    )


def gif_frame_beyond_screen(width: int = 18502, height: int = 43485) -> bytes:
    """A 30 x 20 GIF whose second frame (restore to background) claims width x height from offset 42, 2349.

    Pillow grows the canvas and allocates that frame's disposal area while seeking to it (3 GB; atheris).
    """
    frames = [np.full((20, 30), 40, np.uint8), np.full((20, 30), 90, np.uint8)]
    return raw_gif(
        frames,
        cube_palette(),
        delays_cs=[5, 5],
        disposals=[2, 2],
        transparency=255,
        places=[(0, 0), (42, 2349)],
        claims=[None, (width, height)],
    )


def gif_grey_transparent() -> bytes:
    """A greyscale-palette GIF (Pillow reads it as L) with a transparent index, restore to background."""
    grey = np.repeat(np.arange(256, dtype=np.uint8), 3)
    frames = [np.full((20, 24), 40 + index * 50, np.uint8) for index in range(3)]
    for index, frame in enumerate(frames):
        frame[: 4 + index * 3, :6] = 7  # the transparent grey level
    return raw_gif(frames, grey, delays_cs=[5, 6, 7], disposals=[2, 2, 2], transparency=7)


# ------------------------------------------------------------------ PNG / APNG


def _rgba(width: int, height: int, seed: int, alpha: int = 255) -> npt.NDArray[np.uint8]:
    return np.dstack([_scene(width, height, seed), np.full((height, width), alpha, np.uint8)])


def apng_default_image() -> bytes:
    """A default image (shown by viewers without APNG) outside the animation, then three timed frames."""
    frames = [ApngFrame(_rgba(32, 24, seed), delay=(seed, 20)) for seed in (1, 2, 3)]
    return raw_apng(32, 24, frames, default=_rgba(32, 24, 9))


def apng_identical_frames() -> bytes:
    same = _rgba(32, 24, 4)
    delays = [(1, 30), (1, 30), (2, 30), (1, 7)]
    frames = [ApngFrame(_rgba(32, 24, 1), delay=delays[0])] + [ApngFrame(same, delay=d) for d in delays[1:]]
    return raw_apng(32, 24, frames)


def apng_dispose_and_blend() -> bytes:
    """Sub-frames: over-blended half transparent, disposed to background and to previous."""
    return raw_apng(
        40,
        30,
        [
            ApngFrame(_rgba(40, 30, 1), dispose=0),
            ApngFrame(_rgba(12, 10, 2, alpha=128), x=4, y=5, dispose=1, blend=1),
            ApngFrame(_rgba(10, 10, 3), x=20, y=12, dispose=2),
            ApngFrame(_rgba(8, 6, 5, alpha=0), x=1, y=1, blend=1),
        ],
    )


def png_colour_keys() -> list[OddFile]:
    """tRNS on RGB, grey, 1/2/4-bit and 16-bit pictures, with the alpha a viewer sees."""
    rng = np.random.default_rng(5)
    cases = []
    height, width = 16, 24
    # 8-bit RGB, key (10, 20, 30)
    rgb = _scene(width, height, 1)
    rgb[3:7, 3:9] = (10, 20, 30)
    data = png_header(width, height, 8, 2) + png_chunk(b"tRNS", struct.pack(">3H", 10, 20, 30))
    cases.append(
        (
            "png_trns_rgb8",
            data + png_chunk(b"IDAT", png_rows(rgb)) + png_chunk(b"IEND", b""),
            ~np.all(rgb == (10, 20, 30), 2),
        )
    )
    # 8-bit grey, key 77
    grey = rng.integers(0, 256, (height, width), dtype=np.uint8)
    grey[5:9, 5:15] = 77
    data = png_header(width, height, 8, 0) + png_chunk(b"tRNS", struct.pack(">H", 77))
    cases.append(("png_trns_grey8", data + png_chunk(b"IDAT", png_rows(grey)) + png_chunk(b"IEND", b""), grey != 77))
    # 16-bit grey, key 0x1234: only exact matches are transparent
    grey16 = rng.integers(0, 65536, (height, width)).astype(">u2")
    grey16[2:6, 2:20] = 0x1234
    grey16[8, 2:20] = 0x1299  # same high byte, not the key
    data = png_header(width, height, 16, 0) + png_chunk(b"tRNS", struct.pack(">H", 0x1234))
    raw = zlib.compress(b"".join(b"\0" + row.tobytes() for row in grey16))
    cases.append(("png_trns_grey16", data + png_chunk(b"IDAT", raw) + png_chunk(b"IEND", b""), grey16 != 0x1234))
    # 16-bit RGB, key (0x1234, 0x5678, 0x9ABC): Pillow decodes 8 bits, so the key is matched on its high bytes;
    # the other pixels (0xVVVV) are random, so none shares all three high bytes with the key
    rgb16 = (rng.integers(0, 256, (height, width, 3)) * 257).astype(">u2")
    rgb16[9:13, 1:7] = (0x1234, 0x5678, 0x9ABC)
    data = png_header(width, height, 16, 2) + png_chunk(b"tRNS", struct.pack(">3H", 0x1234, 0x5678, 0x9ABC))
    raw = zlib.compress(b"".join(b"\0" + row.tobytes() for row in rgb16))
    opaque = ~np.all(rgb16 == (0x1234, 0x5678, 0x9ABC), axis=2)
    cases.append(("png_trns_rgb16", data + png_chunk(b"IDAT", raw) + png_chunk(b"IEND", b""), opaque))
    # 1, 2 and 4-bit grey: the key is a raw sample value (Pillow scales the samples to 0-255, not the key)
    for depth, key in ((1, 1), (2, 2), (4, 9)):
        samples = rng.integers(0, 1 << depth, (height, width), dtype=np.uint8)
        packed = pack_bits(samples, depth)
        data = png_header(width, height, depth, 0) + png_chunk(b"tRNS", struct.pack(">H", key))
        cases.append(
            (f"png_trns_grey{depth}bit", data + png_chunk(b"IDAT", packed) + png_chunk(b"IEND", b""), samples != key)
        )
    # A malformed key (300 on 8-bit samples) matches no pixel: the picture stays opaque.
    for name, depth, colour, key in (
        ("png_trns_rgb8_key_too_big", 8, 2, (300, 20, 30)),
        ("png_trns_grey8_key_too_big", 8, 0, (300,)),
    ):
        samples = rgb if colour == 2 else grey
        data = png_header(width, height, depth, colour) + png_chunk(b"tRNS", struct.pack(f">{len(key)}H", *key))
        cases.append(
            (
                name,
                data + png_chunk(b"IDAT", png_rows(samples)) + png_chunk(b"IEND", b""),
                np.ones((height, width), bool),
            )
        )
    return [OddFile(name, data, alpha=(np.where(opaque, 255, 0).astype(np.uint8),)) for name, data, opaque in cases]


# ------------------------------------------------------------------ WebP


def webp_identical_frames() -> bytes:
    """An animated WebP (lossless frames) whose frames 2-4 are identical, each with its own duration."""
    pictures = [_scene(32, 24, 1), _scene(32, 24, 2), _scene(32, 24, 2), _scene(32, 24, 2), _scene(32, 24, 3)]
    frames = []
    for rgb, duration in zip(pictures, (100, 200, 300, 400, 500), strict=True):
        still = save(Image.fromarray(rgb), "WEBP", lossless=True)
        bitstream = still[12:]  # the VP8L chunk
        place = bytes(6) + struct.pack("<I", 31)[:3] + struct.pack("<I", 23)[:3] + struct.pack("<I", duration)[:3]
        frames.append(riff_chunk(b"ANMF", place + b"\x02" + bitstream))
    body = riff_chunk(b"VP8X", b"\x02" + bytes(3) + struct.pack("<I", 31)[:3] + struct.pack("<I", 23)[:3])
    body += riff_chunk(b"ANIM", bytes(4) + struct.pack("<H", 3)) + b"".join(frames)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def webp_alpha_animation() -> bytes:
    """An animated lossless WebP with half-transparent frames (Pillow's writer: the frames all differ)."""
    pictures = [Image.fromarray(_rgba(32, 24, seed, alpha=90 + 60 * seed)) for seed in range(3)]
    return save(pictures[0], "WEBP", save_all=True, append_images=pictures[1:], duration=[40, 50, 60], lossless=True)


def avif_identical_frames() -> bytes:
    """An animated AVIF with two identical frames in the middle (Pillow's AVIF writer keeps them)."""
    scenes = [_scene(32, 24, 1), _scene(32, 24, 2), _scene(32, 24, 2), _scene(32, 24, 3)]
    pictures = [Image.fromarray(scene) for scene in scenes]
    return save(pictures[0], "AVIF", save_all=True, append_images=pictures[1:], duration=[40, 50, 60, 70], quality=90)


def heif_identical_images() -> bytes:
    """A HEIF holding two identical images (pillow_heif's writer keeps both)."""
    picture = Image.fromarray(_scene(32, 24, 5))
    return save(picture, "HEIF", save_all=True, append_images=[picture.copy()], quality=90)


def avif_corrupt_av1() -> bytes:
    """An AVIF whose AV1 data (the mdat box) is zeroed: Pillow's decoder raises RuntimeError (found by atheris)."""
    good = save(Image.fromarray(_scene(32, 24, 1)), "AVIF", quality=90)
    payload = good.index(b"mdat") + 12
    return good[:payload] + bytes(len(good) - payload)


def avif_zero_timescale() -> bytes:
    """An animated AVIF whose track timescale (mdhd) is 0: Pillow divides by it (found by atheris)."""
    data = bytearray(avif_identical_frames())
    box = data.index(b"mdhd")
    at = box + 8 + (8 if data[box + 4] == 0 else 16)  # after version/flags and the creation/modification times
    data[at : at + 4] = bytes(4)
    return bytes(data)


# ------------------------------------------------------------------ TIFF, BMP/DIB, JPEG


def tiff_webp_compressed() -> bytes:
    """A 16 x 12 RGB TIFF with Compression 50001 (WebP): its one strip is a WebP file, as libtiff writes it."""
    strip = save(Image.fromarray(_scene(16, 12, 2)), "WEBP", lossless=True)
    entries = [
        (256, 3, 1, 16),
        (257, 3, 1, 12),
        (258, 3, 1, 8),  # one value read as 8,8,8 by Pillow for 3 samples
        (259, 3, 1, 50001),
        (262, 3, 1, 2),
        (273, 4, 1, 0),  # patched below
        (277, 3, 1, 3),
        (278, 3, 1, 12),
        (279, 4, 1, len(strip)),
        (284, 3, 1, 1),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    strip_at = 8 + ifd_size
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = strip_at if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    return b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + strip


TIFF_CODECS = ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg", "lzma", "zstd")


def tiffs() -> list[OddFile]:
    cases = [OddFile(f"tiff_{c}", save(Image.fromarray(_scene(40, 30, 4)), "TIFF", compression=c)) for c in TIFF_CODECS]
    bits = Image.fromarray(_scene(40, 30, 4)[:, :, 0] > 120)
    cases += [OddFile(f"tiff_1bit_{c}", save(bits, "TIFF", compression=c)) for c in ("group3", "group4", "tiff_ccitt")]
    cases.append(
        OddFile("tiff_webp", tiff_webp_compressed(), UnsupportedImageError, "TIFF compression webp is not supported")
    )
    return cases


def jpegs() -> list[OddFile]:
    picture = Image.fromarray(_scene(48, 32, 6))
    cases = [OddFile(f"jpeg_sampling_{s}", save(picture, "JPEG", subsampling=s, quality=92)) for s in (0, 1, 2)]
    cases.append(OddFile("jpeg_progressive_444", save(picture, "JPEG", subsampling=0, progressive=True)))
    return cases


# ------------------------------------------------------------------ installed public-domain samples


def _skimage_data() -> Path | None:
    spec = util.find_spec("skimage")  # located, not imported (importing scikit-image is slow)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


SAMPLES = {
    # SpaceX launch photo (public domain): a real 4:4:4 JPEG.
    "rocket.jpg": None,
    # Chelsea the cat (CC0): a PNG carrying camera XMP (make, model, dates).
    "chelsea.png": None,
    # Hubble deep field (NASA, public domain): a JPEG with XMP and an Adobe RGB ICC profile.
    "hubble_deep_field.jpg": None,
    # tifffile's 2-page float64 planar RGB test file: not a pixel layout Pillow reads.
    "multipage_rgb.tif": (UnsupportedImageError, "not an image in a supported format"),
}


def samples() -> list[OddFile]:
    folder = _skimage_data()
    found = []
    for name, error in SAMPLES.items():
        path = folder / name if folder is not None else None
        if path is not None and path.is_file():
            kind, message = error if error else (None, "")
            found.append(OddFile(f"sample_{name}", path.read_bytes(), kind, message))
    return found


@cache
def odd_files() -> tuple[OddFile, ...]:
    files = [OddFile(f"gif_disposal_{d}", gif_disposal(d)) for d in (0, 1, 2, 3)]
    files += [
        OddFile("gif_sub_rectangles", gif_sub_rectangles()),
        OddFile("gif_identical_frames", gif_identical_frames()),
        OddFile("gif_grey_transparent", gif_grey_transparent()),
        OddFile("apng_default_image", apng_default_image()),
        OddFile("apng_identical_frames", apng_identical_frames()),
        OddFile("apng_dispose_and_blend", apng_dispose_and_blend()),
        OddFile("webp_identical_frames", webp_identical_frames()),
        OddFile("webp_alpha_animation", webp_alpha_animation()),
        OddFile("webp_lossless_still", save(Image.fromarray(_rgba(30, 20, 6, alpha=150)), "WEBP", lossless=True)),
        OddFile("webp_lossy_still", save(Image.fromarray(_scene(30, 20, 6)), "WEBP", quality=80)),
        OddFile("avif_identical_frames", avif_identical_frames()),
        OddFile("heif_two_identical_images", heif_identical_images()),
        OddFile("dib_headerless", save(Image.fromarray(_scene(30, 20, 7)), "DIB")),
        OddFile("bmp_rgba", save(Image.fromarray(_rgba(30, 20, 8, alpha=200)), "BMP")),
    ]
    files.append(OddFile("avif_corrupt_av1", avif_corrupt_av1(), UnsupportedImageError, "corrupt or truncated"))
    files.append(OddFile("avif_zero_timescale", avif_zero_timescale(), UnsupportedImageError, "corrupt or truncated"))
    return tuple(files + png_colour_keys() + tiffs() + jpegs() + samples())

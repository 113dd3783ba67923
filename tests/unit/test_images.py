import io
import struct
import zlib

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageCms, ImageFile, PngImagePlugin

from faceanon.errors import ImageTooLargeError, PayloadTooLargeError, UnsupportedImageError
from faceanon.images import decode, encode, guess_format, read_file
from support.images import (
    STORED_AS,
    exif_with_gps_and_thumbnail,
    gradient,
    jpeg_segments,
    to_bytes,
    upright_reference,
)

LIMITS = {"max_pixels": 10_000_000, "max_bytes": 50_000_000}
# Make, Model, Software, Artist, ImageDescription, DateTime, EXIF IFD, GPS IFD, XMP, IPTC, orientation.
PRIVATE_TAGS = {0x010F, 0x0110, 0x0131, 0x013B, 0x010E, 0x0132, 0x8769, 0x8825, 0x02BC, 0x83BB, 0x0112}
LOSSY_TOLERANCE = {"JPEG": 8.0, "WEBP": 8.0, "AVIF": 8.0, "HEIF": 8.0}  # mean abs difference, 0-255


def _source(mode: str) -> tuple[Image.Image, dict[str, object]]:
    """A 64 x 48 test picture in the given mode ("PT" = palette with a transparent index)."""
    rgb = Image.fromarray(gradient(64, 48))
    if mode == "PT":
        palette = rgb.convert("P")
        return palette, {"transparency": int(np.asarray(palette)[0, 0])}
    if mode in ("LA", "RGBA"):
        array = np.asarray(rgb.convert(mode)).copy()
        array[:12, :, -1] = 0
        array[12:24, :, -1] = 128
        return Image.fromarray(array, mode), {}
    if mode == "I;16":
        return Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257), {}
    if mode == "F":
        return rgb.convert("L").convert("F"), {}
    return rgb.convert(mode), {}


# (format, input mode, expected output mode of the decoded image)
ROUND_TRIPS = [
    ("JPEG", "RGB", "RGB"),
    ("JPEG", "L", "L"),
    ("JPEG", "CMYK", "RGB"),
    ("PNG", "RGB", "RGB"),
    ("PNG", "RGBA", "RGBA"),
    ("PNG", "L", "L"),
    ("PNG", "LA", "LA"),
    ("PNG", "P", "RGB"),
    ("PNG", "PT", "RGBA"),
    ("PNG", "1", "L"),
    ("PNG", "I;16", "L"),
    ("WEBP", "RGB", "RGB"),
    ("WEBP", "RGBA", "RGBA"),
    ("GIF", "P", "RGB"),
    ("GIF", "PT", "RGBA"),
    ("TIFF", "RGB", "RGB"),
    ("TIFF", "RGBA", "RGBA"),
    ("TIFF", "CMYK", "RGB"),
    ("TIFF", "L", "L"),
    ("TIFF", "LA", "LA"),
    ("TIFF", "I;16", "L"),
    ("TIFF", "F", "L"),
    ("BMP", "RGB", "RGB"),
    ("BMP", "L", "L"),
    ("BMP", "P", "RGB"),
    ("BMP", "1", "L"),
    ("AVIF", "RGB", "RGB"),
    ("AVIF", "RGBA", "RGBA"),
    ("HEIF", "RGB", "RGB"),
    ("HEIF", "RGBA", "RGBA"),
]


def _rgba(image: Image.Image) -> npt.NDArray[np.int16]:
    return np.asarray(image.convert("RGBA"), dtype=np.int16)


@pytest.mark.parametrize(("fmt", "mode", "output_mode"), ROUND_TRIPS, ids=[f"{f}-{m}" for f, m, _ in ROUND_TRIPS])
def test_each_format_and_mode_round_trips(fmt: str, mode: str, output_mode: str) -> None:
    source, options = _source(mode)
    data = to_bytes(source, fmt, **options)
    with Image.open(io.BytesIO(data)) as reread:
        # What a viewer of the input sees (Pillow clips 16-bit and float grey, so compare with their 8-bit source).
        original = _rgba(reread) if mode not in ("I;16", "F") else _rgba(Image.fromarray(gradient(64, 48)).convert("L"))
    decoded = decode(data, **LIMITS)
    assert (decoded.width, decoded.height, decoded.output_mode) == (64, 48, output_mode)
    assert decoded.frames[0].dtype == np.uint8
    assert decoded.frames[0].shape == (48, 64, 3)

    output = encode(decoded)
    with Image.open(io.BytesIO(output)) as result:
        assert result.format == fmt
        assert result.size == (64, 48)
        assert (result.mode in ("LA", "RGBA", "P")) == (output_mode in ("LA", "RGBA")) or fmt == "GIF"
        pixels = _rgba(result)
    tolerance = LOSSY_TOLERANCE.get(fmt, 0.0) + (1.0 if mode in ("I;16", "F") else 0.0)
    assert np.abs(pixels[:, :, :3] - original[:, :, :3]).mean() <= tolerance
    assert np.abs(pixels[:, :, 3] - original[:, :, 3]).max() <= (2 if fmt in LOSSY_TOLERANCE else 0)


def test_png_compress_level_trades_bytes_not_pixels() -> None:
    rng = np.random.default_rng(0)
    noisy = np.clip(gradient(256, 192).astype(np.int16) + rng.integers(-6, 7, (192, 256, 3)), 0, 255)
    decoded = decode(to_bytes(Image.fromarray(noisy.astype(np.uint8)), "PNG"), **LIMITS)
    fastest, smallest = (encode(decoded, png_compress_level=level) for level in (1, 9))
    assert len(smallest) < len(fastest)
    for data in (fastest, smallest):
        with Image.open(io.BytesIO(data)) as result:
            np.testing.assert_array_equal(np.asarray(result), decoded.frames[0])


def test_cmyk_jpeg_becomes_rgb_and_drops_its_cmyk_profile() -> None:
    cmyk_profile = bytes(16) + b"CMYK" + bytes(108)  # only the colour-space field matters here
    data = to_bytes(Image.fromarray(gradient(32, 32)).convert("CMYK"), "JPEG", icc_profile=cmyk_profile)
    with Image.open(io.BytesIO(encode(decode(data, **LIMITS)))) as result:
        assert result.mode == "RGB"
        assert "icc_profile" not in result.info


def test_an_rgb_icc_profile_is_kept() -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = to_bytes(Image.fromarray(gradient(32, 32)), "PNG", icc_profile=profile)
    with Image.open(io.BytesIO(encode(decode(data, **LIMITS)))) as result:
        assert result.info.get("icc_profile") == profile


def _metadata_sources() -> list[tuple[str, bytes]]:
    picture = Image.fromarray(gradient(48, 32))
    exif = Image.Exif()
    exif[0x010F] = "Camera"
    exif[0x0131] = "secret-software"
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Jane Doe")
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>secret</x:xmpmeta>")
    xmp = b"<x:xmpmeta>secret</x:xmpmeta>"
    return [
        ("JPEG", to_bytes(picture, "JPEG", exif=exif, comment=b"secret comment", xmp=xmp)),
        ("PNG", to_bytes(picture, "PNG", exif=exif, pnginfo=text)),
        ("WEBP", to_bytes(picture, "WEBP", exif=exif, xmp=xmp)),
        ("TIFF", to_bytes(picture, "TIFF", exif=exif, description="secret description")),
        ("AVIF", to_bytes(picture, "AVIF", exif=exif, xmp=xmp)),
        ("HEIF", to_bytes(picture, "HEIF", exif=exif, xmp=xmp)),
    ]


@pytest.mark.parametrize(("fmt", "data"), _metadata_sources(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_metadata_is_carried_over(fmt: str, data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as source:
        assert dict(source.getexif())  # the input really has EXIF
    output = encode(decode(data, **LIMITS))
    with Image.open(io.BytesIO(output)) as result:
        assert result.format == fmt
        tags = set(result.getexif())
        assert not tags & PRIVATE_TAGS
        assert fmt == "TIFF" or not tags
        assert not result.info.get("exif")
        assert not result.info.get("xmp")
        assert "comment" not in result.info
        assert "Author" not in result.info
    assert b"secret" not in output  # no leftover text anywhere in the file


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF"])
@pytest.mark.parametrize("orientation", sorted(STORED_AS))
def test_exif_orientation_is_applied_and_output_is_upright(fmt: str, orientation: int) -> None:
    reference = upright_reference()
    upright = Image.fromarray(reference)
    transpose = STORED_AS[orientation]
    stored = upright.transpose(transpose) if transpose is not None else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    options: dict[str, object] = {"tiffinfo": {0x0112: orientation}} if fmt == "TIFF" else {"exif": exif}
    decoded = decode(to_bytes(stored, fmt, **options), **LIMITS)
    tolerance = LOSSY_TOLERANCE.get(fmt, 0.0)
    assert decoded.frames[0].shape == reference.shape
    assert np.abs(decoded.frames[0].astype(int) - reference).mean() <= tolerance
    with Image.open(io.BytesIO(encode(decoded))) as result:
        assert result.size == (60, 40)
        assert result.getexif().get(0x0112) is None


def test_gps_exif_and_thumbnail_are_gone_from_the_output() -> None:
    thumbnail = to_bytes(Image.new("RGB", (40, 30), (200, 10, 10)), "JPEG")
    stored = Image.fromarray(gradient(60, 40)).transpose(Image.Transpose.ROTATE_90)
    data = to_bytes(stored, "JPEG", exif=exif_with_gps_and_thumbnail(6, thumbnail))
    assert thumbnail in data
    assert 0xE1 in {marker for marker, _ in jpeg_segments(data)}

    output = encode(decode(data, **LIMITS))
    markers = {marker for marker, _ in jpeg_segments(output)}
    assert 0xE1 not in markers  # no APP1: no EXIF, no XMP
    assert output.count(b"\xff\xd8") == 1  # no embedded thumbnail JPEG
    with Image.open(io.BytesIO(output)) as result:
        assert result.size == (60, 40)
        assert not dict(result.getexif())


def _animation(fmt: str, frames: int = 4) -> bytes:
    pictures = []
    for index in range(frames):
        rgb = gradient(40, 30)
        rgb[:, index * 8 : index * 8 + 8] = (255, 255, 255)
        pictures.append(Image.fromarray(rgb))
    return to_bytes(
        pictures[0], fmt, save_all=True, append_images=pictures[1:], duration=[100, 120, 140, 160][:frames], loop=0
    )


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG", "TIFF"])
def test_every_frame_is_decoded_and_encoded(fmt: str) -> None:
    data = _animation(fmt)
    decoded = decode(data, **LIMITS)
    assert len(decoded.frames) == 4
    # Each frame carries its own white stripe: the frames are really distinct.
    stripes = [int(np.argmax(frame[15, :, 0] > 250)) for frame in decoded.frames]
    assert stripes == [0, 8, 16, 24]
    output = encode(decoded)
    with Image.open(io.BytesIO(output)) as result:
        assert result.format == fmt
        assert result.n_frames == 4
        if fmt != "TIFF":
            assert result.info.get("loop") == 0


def test_multi_page_tiff_pages_keep_their_sizes() -> None:
    pages = [Image.fromarray(gradient(40, 30)), Image.fromarray(gradient(20, 50))]
    decoded = decode(to_bytes(pages[0], "TIFF", save_all=True, append_images=pages[1:]), **LIMITS)
    assert [f.shape[:2] for f in decoded.frames] == [(30, 40), (50, 20)]
    with Image.open(io.BytesIO(encode(decoded))) as result:
        result.seek(1)
        assert result.size == (20, 50)


def test_mpo_becomes_a_jpeg_of_the_primary_picture() -> None:
    pictures = [Image.fromarray(gradient(40, 30)), Image.new("RGB", (40, 30), "white")]
    data = to_bytes(pictures[0], "MPO", save_all=True, append_images=pictures[1:])
    decoded = decode(data, **LIMITS)
    assert decoded.format == "JPEG"
    assert len(decoded.frames) == 1
    assert decoded.frames[0].mean() < 200  # the gradient, not the white second picture


def test_encode_refuses_a_different_frame_count() -> None:
    decoded = decode(_animation("GIF"), **LIMITS)
    with pytest.raises(UnsupportedImageError):
        encode(decoded, decoded.frames[:-1])


# -- limits, bombs and junk -------------------------------------------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but whose pixel data is a few bytes (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(to_bytes(Image.fromarray(gradient(16, 16)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(to_bytes(Image.fromarray(gradient(16, 16)).convert("P"), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        _png_claiming(20_000, 20_000),  # 400 MP: our limit
        _png_claiming(60_000, 60_000),  # 3.6 GP: Pillow's own guard (DecompressionBombError)
        _jpeg_claiming(30_000, 30_000),
        _jpeg_claiming(40_000, 40_000),
        _gif_claiming(65_000, 65_000),
    ],
    ids=["png-400MP", "png-3.6GP", "jpeg-900MP", "jpeg-1.6GP", "gif-4.2GP"],
)
def test_bombs_fail_on_the_header_before_any_decode(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageTooLargeError, match="pixels"):
        decode(data, max_pixels=50_000_000, max_bytes=1_000_000)


def test_too_many_pixels_is_a_typed_error_with_the_numbers() -> None:
    data = to_bytes(Image.fromarray(gradient(100, 80)), "PNG")
    with pytest.raises(ImageTooLargeError, match="100x80 = 8000 pixels; the limit is 7999"):
        decode(data, max_pixels=7999, max_bytes=1_000_000)
    assert decode(data, max_pixels=8000, max_bytes=1_000_000).width == 100


def test_animation_frames_count_towards_the_pixel_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _animation("GIF")  # 4 frames of 40 x 30 = 4800 pixels

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data was decoded")

    with monkeypatch.context() as patch:
        patch.setattr(ImageFile.ImageFile, "load", no_decoding)
        with pytest.raises(ImageTooLargeError, match="4 frames"):
            decode(data, max_pixels=4799, max_bytes=1_000_000)
    assert len(decode(data, max_pixels=4800, max_bytes=1_000_000).frames) == 4


def test_too_many_bytes_is_refused_before_opening() -> None:
    data = to_bytes(Image.fromarray(gradient(10, 10)), "PNG")
    with pytest.raises(PayloadTooLargeError, match=f"{len(data)} bytes; the limit is {len(data) - 1}"):
        decode(data, max_pixels=1000, max_bytes=len(data) - 1)


def test_read_file_refuses_a_large_file_without_reading_it(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "big.jpg"  # type: ignore[operator]
    path.write_bytes(b"\0" * 2000)
    with pytest.raises(PayloadTooLargeError):
        read_file(path, 1999)
    assert len(read_file(path, 2000)) == 2000


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        to_bytes(Image.fromarray(gradient(20, 20)), "PNG")[:-40],  # truncated
        to_bytes(Image.fromarray(gradient(20, 20)), "JPEG")[:200],  # truncated
        to_bytes(Image.fromarray(gradient(20, 20)), "PPM"),  # a real image, not a supported format
        to_bytes(Image.fromarray(gradient(20, 20)), "ICO"),
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",  # EPS would run Ghostscript
    ],
    ids=["empty", "text", "truncated-png", "truncated-jpeg", "ppm", "ico", "eps"],
)
def test_junk_and_unsupported_formats_are_a_typed_error(data: bytes) -> None:
    with pytest.raises(UnsupportedImageError):
        decode(data, **LIMITS)


@pytest.mark.parametrize(
    ("name", "expected"), [("a/B.JPG", "JPEG"), ("x.heic", "HEIF"), ("x.tif", "TIFF"), ("x.txt", None), ("x", None)]
)
def test_guess_format_by_extension(name: str, expected: str | None) -> None:
    assert guess_format(name) == expected

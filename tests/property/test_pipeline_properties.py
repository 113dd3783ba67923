"""Properties of decode -> anonymise -> encode (hypothesis, bounded and without a deadline):

* whatever the bytes, the only exceptions are faceanon's domain errors;
* the output never carries EXIF (nor any string planted in it);
* with method=fill, every pixel inside a mask has the fill colour: no pixel there keeps its value.

Detection is a fake that returns arbitrary boxes drawn by hypothesis (also partly or wholly off the image).
"""

import io
from typing import Any

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from faceanon.errors import FaceAnonError
from faceanon.images import decode, encode
from faceanon.masks import mask_regions
from faceanon.service import anonymise
from faceanon.settings import Settings

BOUNDED = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
LOSSLESS = ("PNG", "BMP", "TIFF")


class ArbitraryBoxes:
    """Returns the same boxes (in upright pixels) for every frame, whatever the image."""

    model_sha256 = "arbitrary"

    def __init__(self, boxes: npt.NDArray[np.float32]) -> None:
        self.boxes = boxes

    def detect(
        self, rgb: npt.NDArray[np.uint8], *, threshold: float | None, detection: str = "default"
    ) -> npt.NDArray[np.float32]:
        return self.boxes.copy()


def _save(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@st.composite
def pictures(draw: st.DrawFn, formats: tuple[str, ...] = ("PNG", "JPEG", "BMP", "TIFF", "GIF", "WEBP")) -> bytes:
    """Encoded images of small random size, mode and content in any readable format."""
    width = draw(st.integers(1, 48))
    height = draw(st.integers(1, 48))
    fmt = draw(st.sampled_from(formats))
    mode = draw(st.sampled_from(["RGB", "L", "RGBA", "LA", "P", "I;16", "CMYK", "1"]))
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert("RGBA" if mode in ("RGBA", "LA") else "RGB")
    if mode == "I;16":
        image = Image.fromarray(pixels[:, :, 0].astype(np.uint16) * 257)
    elif mode != image.mode:
        image = image.convert(mode)
    try:
        return _save(image, fmt)
    except (OSError, ValueError, KeyError):
        # This format cannot hold this mode: fall back to the same pixels as RGB.
        return _save(Image.fromarray(pixels), fmt)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid picture with bytes overwritten, inserted or cut off (what fuzzers do)."""
    data = bytearray(draw(pictures()))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, max(0, len(data) - 1)))
        action = draw(st.sampled_from(["set", "insert", "truncate", "flip"]))
        value = draw(st.integers(0, 255))
        if action == "set" and data:
            data[position] = value
        elif action == "insert":
            data[position:position] = bytes([value]) * draw(st.integers(1, 64))
        elif action == "truncate":
            del data[position:]
        elif data:
            data[position] ^= 1 << (value % 8)
    return bytes(data)


@st.composite
def boxes(draw: st.DrawFn) -> npt.NDArray[np.float32]:
    coordinate = st.floats(-20, 70, allow_nan=False, width=32)
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        x1, x2 = sorted((draw(coordinate), draw(coordinate)))
        y1, y2 = sorted((draw(coordinate), draw(coordinate)))
        rows.append([x1, y1, x2 + 0.5, y2 + 0.5, draw(st.floats(0.2, 1.0))])
    return np.asarray(rows, dtype=np.float32).reshape(-1, 5)


SETTINGS = st.builds(
    Settings,
    method=st.sampled_from(["fill", "blur", "pixelate"]),
    shape=st.sampled_from(["ellipse", "box"]),
    fill=st.sampled_from(["#000000", "#ff00ff", "#12ab34", "noise"]),
    mask_scale=st.floats(0.5, 3.0),
    threshold=st.floats(0.01, 0.99),
    max_pixels=st.just(4096),  # small, so the pixel limit itself is exercised
)


@BOUNDED
@given(data=st.one_of(st.binary(max_size=2048), mutated()), settings_=SETTINGS, dets=boxes())
def test_only_domain_errors(data: bytes, settings_: Settings, dets: npt.NDArray[np.float32]) -> None:
    try:
        result = anonymise(data, settings_, ArbitraryBoxes(dets))
    except FaceAnonError:
        return
    with Image.open(io.BytesIO(result.image)) as image:
        image.load()
        assert image.size == (result.width, result.height)


@BOUNDED
@given(data=mutated())
def test_decode_alone_raises_only_domain_errors(data: bytes) -> None:
    try:
        decoded = decode(data, max_pixels=1 << 20, max_bytes=1 << 20)
    except FaceAnonError:
        return
    encode(decoded)  # whatever decoded must encode again


TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=8, max_size=40)


@BOUNDED
@given(
    picture=st.builds(lambda w, h, s: (w, h, s), st.integers(8, 48), st.integers(8, 48), st.integers(0, 2**31)),
    orientation=st.integers(1, 8),
    make=TEXT,
    comment=TEXT,
    note=st.binary(min_size=8, max_size=4096),
    latitude=st.tuples(st.integers(0, 89), st.integers(0, 59), st.integers(0, 59)),
    fmt=st.sampled_from(["JPEG", "PNG", "WEBP", "TIFF"]),
)
def test_output_never_carries_exif(
    picture: tuple[int, int, int],
    orientation: int,
    make: str,
    comment: str,
    note: bytes,
    latitude: tuple[int, int, int],
    fmt: str,
) -> None:
    width, height, seed = picture
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = make
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\0\0\0" + comment.encode()  # UserComment
    exif.get_ifd(0x8769)[0x927C] = note  # MakerNote
    exif.get_ifd(0x8825).update({1: "N", 2: tuple(float(v) for v in latitude)})
    data = _save(Image.fromarray(pixels), fmt, exif=exif.tobytes())
    result = anonymise(data, Settings(), ArbitraryBoxes(np.asarray([[2, 2, 6, 6, 0.9]], np.float32)))
    assert make.encode() not in result.image
    assert comment.encode() not in result.image
    assert b"Exif\0\0" not in result.image
    with Image.open(io.BytesIO(result.image)) as image:
        tags = image.getexif()
        assert 0x8769 not in tags
        assert 0x8825 not in tags
        assert 0x010F not in tags
        assert image.format == "TIFF" or not tags
        upright = (height, width) if orientation >= 5 else (width, height)
        assert image.size == upright


def _inside(region: npt.NDArray[np.float64], shape: str, height: int, width: int) -> npt.NDArray[np.bool_]:
    """Pixels whose centres lie strictly inside the mask region (an independent, whole-image computation)."""
    x1, y1, x2, y2 = region
    ys = np.arange(height, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float64)[None, :] + 0.5
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    rx, ry = (x2 - x1) / 2, (y2 - y1) / 2
    if rx <= 0 or ry <= 0:
        return np.zeros((height, width), dtype=bool)
    if shape == "box":
        return (np.abs(xs - cx) < rx) & (np.abs(ys - cy) < ry)
    inside: npt.NDArray[np.bool_] = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 < 1 - 1e-9
    return inside


@BOUNDED
@given(
    data=pictures(formats=LOSSLESS),
    dets=boxes(),
    shape=st.sampled_from(["ellipse", "box"]),
    fill=st.sampled_from(["#000000", "#ffffff", "#ff00ff", "#12ab34"]),
    mask_scale=st.floats(0.5, 3.0),
)
def test_fill_leaves_no_pixel_of_a_face(
    data: bytes, dets: npt.NDArray[np.float32], shape: str, fill: str, mask_scale: float
) -> None:
    settings_ = Settings(method="fill", shape=shape, fill=fill, mask_scale=mask_scale)
    result = anonymise(data, settings_, ArbitraryBoxes(dets))
    with Image.open(io.BytesIO(result.image)) as image:
        grey = image.mode in ("L", "LA")
        out = np.asarray(image.convert("RGB"), dtype=np.uint8)
    colour = Image.new("RGB", (1, 1), fill)
    expected = np.asarray((colour.convert("L") if grey else colour).convert("RGB"))[0, 0]
    height, width = out.shape[:2]
    for region in mask_regions(dets, mask_scale):
        inside = _inside(region, shape, height, width)
        assert (out[inside] == expected).all(), f"unmasked pixels in {region}"


def test_inside_helper_is_not_empty_for_a_plain_box() -> None:
    """The property above is only as good as _inside: it must find the pixels of an ordinary face."""
    inside = _inside(np.asarray([10.0, 10.0, 30.0, 20.0]), "ellipse", 40, 40)
    assert 100 < inside.sum() < 20 * 10

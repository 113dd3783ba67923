"""EXIF orientation is applied one way: faceanon.images.upright, by decode and by the evaluation's load_rgb.

Before, decode had its own transpose table and the evaluation used ImageOps.exif_transpose; both must give the
same pixels on the oriented test pictures the suite uses (test_images' eight orientations in PNG, JPEG, WebP and
TIFF, and the JPEG with a GPS position and a thumbnail in its EXIF).
"""

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageOps

from faceanon.image_orientation import ORIENTATION_TRANSPOSE, exif_orientation
from faceanon.images import decode, upright
from faceanon_tools.evaluation import load_rgb
from support.images import STORED_AS, exif_with_gps_and_thumbnail, gradient, to_bytes, upright_reference

REPO = Path(__file__).resolve().parents[2]
LIMITS = {"max_pixels": 10_000_000, "max_bytes": 50_000_000}
EXTENSION = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif"}


def _oriented(fmt: str, orientation: int) -> bytes:
    """test_images' picture (a bright patch top-left), stored as a camera would for this orientation tag."""
    picture = Image.fromarray(upright_reference())
    transpose = STORED_AS[orientation]
    stored = picture.transpose(transpose) if transpose is not None else picture
    exif = Image.Exif()
    exif[0x0112] = orientation
    options: dict[str, object] = {"tiffinfo": {0x0112: orientation}} if fmt == "TIFF" else {"exif": exif}
    return to_bytes(stored, fmt, **options)


def _gps_jpeg() -> bytes:
    thumbnail = to_bytes(Image.new("RGB", (40, 30), (200, 10, 10)), "JPEG")
    stored = Image.fromarray(gradient(60, 40)).transpose(Image.Transpose.ROTATE_90)
    return to_bytes(stored, "JPEG", exif=exif_with_gps_and_thumbnail(6, thumbnail))


CASES = [
    pytest.param(fmt, _oriented(fmt, orientation), id=f"{fmt}-{orientation}")
    for fmt in ("PNG", "JPEG", "WEBP", "TIFF")
    for orientation in sorted(STORED_AS)
]
CASES.append(pytest.param("JPEG", _gps_jpeg(), id="JPEG-gps-thumbnail-6"))


def _pillow_exif_transpose(data: bytes) -> npt.NDArray[np.uint8]:
    """The evaluation's former way: ImageOps.exif_transpose, then RGB."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def _decode_former_way(data: bytes) -> npt.NDArray[np.uint8]:
    """decode's former way: load, read the tag, transpose by its own table."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        transpose = ORIENTATION_TRANSPOSE.get(exif_orientation(image))
        frame = image.transpose(transpose) if transpose is not None else image
        return np.asarray(frame.convert("RGB")).copy()


@pytest.mark.parametrize(("fmt", "data"), CASES)
def test_both_former_ways_and_upright_give_identical_pixels(fmt: str, data: bytes) -> None:
    pillow = _pillow_exif_transpose(data)
    former_decode = _decode_former_way(data)
    with Image.open(io.BytesIO(data)) as image:
        now = np.asarray(upright(image).convert("RGB"))
    assert pillow.shape == (40, 60, 3)
    np.testing.assert_array_equal(former_decode, pillow)
    np.testing.assert_array_equal(now, pillow)


@pytest.mark.parametrize(("fmt", "data"), CASES)
def test_decode_and_load_rgb_give_identical_pixels(fmt: str, data: bytes, tmp_path: Path) -> None:
    path = tmp_path / f"photo{EXTENSION[fmt]}"
    path.write_bytes(data)
    loaded = load_rgb(path)
    decoded = decode(data, **LIMITS).frames[0]
    np.testing.assert_array_equal(loaded, decoded)
    np.testing.assert_array_equal(loaded, _pillow_exif_transpose(data))


def test_upright_returns_the_image_itself_when_already_upright() -> None:
    with Image.open(io.BytesIO(_oriented("PNG", 1))) as image:
        assert upright(image) is image


def test_orientation_is_applied_in_one_place_only() -> None:
    """No other source file turns pictures by their EXIF tag (no ImageOps.exif_transpose, no 0x0112 table)."""
    for path in sorted((REPO / "src").rglob("*.py")):
        if path.name == "image_orientation.py":
            continue
        text = path.read_text()
        assert "exif_transpose" not in text, path
        assert "0x0112" not in text, path
        assert "Transpose.ROTATE" not in text, path

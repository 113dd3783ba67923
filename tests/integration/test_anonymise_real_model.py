"""The real detector on the shipped sample photo: faces found, masked, upright, and no metadata left."""

import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from faceanon.detector import CenterFaceDetector
from faceanon.nms import iou_matrix
from faceanon.service import anonymise
from faceanon.settings import Settings
from faceanon_tools.evaluation import ellipse_in_box
from support.images import exif_with_gps_and_thumbnail, jpeg_segments, to_bytes

CROP = (60, 0, 460, 300)  # a landscape crop of the sample around the face: rotations change its shape


@pytest.fixture(scope="module")
def upright(sample_rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    x1, y1, x2, y2 = CROP
    return np.ascontiguousarray(sample_rgb[y1:y2, x1:x2])


@pytest.fixture(scope="module")
def reference_face(upright: npt.NDArray[np.uint8], real_detector: CenterFaceDetector) -> npt.NDArray[np.float32]:
    dets = real_detector.detect(upright, threshold=0.2)
    assert len(dets) == 1
    assert dets[0, 4] > 0.5
    return dets[0]


def _face_pixels(pixels: npt.NDArray[np.uint8], box: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    rows, cols, inside = ellipse_in_box(box[:4], *pixels.shape[:2])
    return pixels[rows, cols][inside]


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_rotated_photo_with_gps_comes_out_upright_masked_and_without_exif(
    orientation: int,
    upright: npt.NDArray[np.uint8],
    reference_face: npt.NDArray[np.float32],
    real_detector: CenterFaceDetector,
) -> None:
    stored = {1: None, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}[orientation]
    picture = Image.fromarray(upright)
    picture = picture.transpose(stored) if stored is not None else picture
    thumbnail = to_bytes(picture.resize((80, 60)), "JPEG")  # an unmasked copy of the photo
    data = to_bytes(picture, "JPEG", quality=95, exif=exif_with_gps_and_thumbnail(orientation, thumbnail))

    result = anonymise(data, Settings(), real_detector)

    assert (result.width, result.height) == (400, 300)
    assert result.face_count == 1
    assert iou_matrix([result.faces[0].box], [reference_face])[0, 0] > 0.7
    assert 0xE1 not in {marker for marker, _ in jpeg_segments(result.image)}  # no EXIF / XMP segment
    assert result.image.count(b"\xff\xd8") == 1  # no thumbnail
    with Image.open(io.BytesIO(result.image)) as image:
        assert not dict(image.getexif())
        output = np.asarray(image.convert("RGB"))
    assert _face_pixels(output, reference_face).mean() < 6  # the face is black
    # Upright: away from the face, the output matches the upright original.
    assert np.abs(output[:, :100].astype(int) - upright[:, :100]).mean() < 4


@pytest.mark.parametrize("method", ["fill", "blur", "pixelate"])
def test_each_method_changes_the_whole_face(
    method: str, sample_bytes: bytes, sample_rgb: npt.NDArray[np.uint8], real_detector: CenterFaceDetector
) -> None:
    png = to_bytes(Image.fromarray(sample_rgb), "PNG")
    result = anonymise(png, Settings(method=method), real_detector)
    assert result.face_count == 1
    assert result.format == "PNG"
    with Image.open(io.BytesIO(result.image)) as image:
        output = np.asarray(image.convert("RGB"))
    box = np.asarray(result.faces[0].box, dtype=np.float32)
    before, after = _face_pixels(sample_rgb, box).astype(int), _face_pixels(output, box).astype(int)
    assert (np.abs(after - before).max(axis=1) > 0).mean() > 0.95  # ~every face pixel changed
    assert np.abs(after - before).mean() > 15
    if method == "fill":
        assert (after == 0).all()
    # Outside the mask nothing changes at all (PNG in, PNG out).
    assert (output[400:] == sample_rgb[400:]).all()


def test_a_filled_face_is_not_found_again(sample_rgb: npt.NDArray[np.uint8], real_detector: CenterFaceDetector) -> None:
    result = anonymise(to_bytes(Image.fromarray(sample_rgb), "PNG"), Settings(), real_detector)
    with Image.open(io.BytesIO(result.image)) as image:
        output = np.asarray(image.convert("RGB"))
    # The face is gone: nothing is found where it was (a dark mask beside the dark helmet ring may still draw
    # a weak detection elsewhere; that is a grey patch, not a face).
    (face,) = result.faces
    again = real_detector.detect(output, threshold=0.5)
    assert not (iou_matrix(np.asarray([face.box]), again) >= 0.3).any()

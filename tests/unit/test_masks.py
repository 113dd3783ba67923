import numpy as np
import numpy.typing as npt
import pytest

from faceanon.errors import InvalidRequestError
from faceanon.masks import apply_masks, mask_regions
from faceanon_tools.evaluation import ellipse_in_box
from support.images import gradient


def _inside(box: npt.NDArray[np.float64], shape: str, height: int, width: int) -> npt.NDArray[np.bool_]:
    """The mask as an independent full-image boolean (evaluation's inscribed ellipse, or the whole box)."""
    region = np.zeros((height, width), dtype=bool)
    rows, cols, ellipse = ellipse_in_box(box, height, width)
    region[rows, cols] = ellipse if shape == "ellipse" else True
    return region


FACES = np.array([[30, 20, 70, 70, 0.9], [100, 40, 120, 62, 0.5], [-10, 80, 25, 125, 0.8]], dtype=np.float32)


@pytest.mark.parametrize("shape", ["ellipse", "box"])
@pytest.mark.parametrize("colour", ["#000000", "#ff8000", "#ffffff"])
@pytest.mark.parametrize("mask_scale", [1.0, 1.3, 2.0])
def test_fill_sets_every_pixel_inside_the_mask_and_nothing_outside(shape: str, colour: str, mask_scale: float) -> None:
    image = gradient(160, 120)
    out = apply_masks(image, FACES, method="fill", shape=shape, fill=colour, mask_scale=mask_scale)
    expected = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    inside = np.zeros(image.shape[:2], dtype=bool)
    for region in mask_regions(FACES, mask_scale):
        inside |= _inside(region, shape, 120, 160)
    assert inside.sum() > 1000
    assert (out[inside] == expected).all()
    assert (out[~inside] == image[~inside]).all()
    assert (image == gradient(160, 120)).all()  # the input is not modified


def test_noise_fill_is_fresh_random_noise() -> None:
    image = gradient(160, 120)
    first = apply_masks(image, FACES[:1], fill="noise", mask_scale=1.0)
    second = apply_masks(image, FACES[:1], fill="noise", mask_scale=1.0)
    inside = _inside(FACES[0, :4].astype(np.float64), "ellipse", 120, 160)
    assert first[inside].std() > 60  # noise, not a flat colour or the face
    assert (first[inside] != second[inside]).mean() > 0.9  # a new draw every call
    assert (first[~inside] == image[~inside]).all()


def _step_image(size: int) -> npt.NDArray[np.uint8]:
    """Black left half, white right half: the blur's transition width across the edge measures its sigma."""
    image = np.zeros((size, size, 3), dtype=np.uint8)
    image[:, size // 2 :] = 255
    return image


def _blur_transition(face: int) -> int:
    size = 4 * face + 40
    centre = size / 2
    box = np.array([[centre - face / 2, centre - face / 2, centre + face / 2, centre + face / 2, 0.9]])
    out = apply_masks(_step_image(size), box, method="blur", mask_scale=1.3)
    row = out[size // 2, :, 0].astype(int)
    return int(((row > 25) & (row < 230)).sum())  # 10%-90% width, about 2.56 sigma


@pytest.mark.parametrize("face", [20, 40, 100, 400])
def test_blur_strength_is_proportional_to_face_size(face: int) -> None:
    # A Gaussian of sigma >= 0.12 x face height spreads an edge over >= 0.3 x the face: features gone at any size.
    assert _blur_transition(face) >= 0.3 * face


def test_blur_strength_grows_with_face_size() -> None:
    widths = [_blur_transition(face) for face in (20, 40, 100, 400)]
    assert widths == sorted(widths)
    assert widths[-1] > 10 * widths[0]


def test_blur_has_a_feathered_edge_outside_the_mask() -> None:
    image = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    box = np.array([[70, 70, 130, 130, 0.9]])  # feather: 0.15 x the 30 px radius = 4.5 px outside the box
    out = apply_masks(image, box, method="blur", shape="box", mask_scale=1.0)
    diff = np.abs(out.astype(int) - image).mean(axis=2)
    inside, feather, outside = diff[80:120, 70:72].mean(), diff[80:120, 67].mean(), diff[80:120, 60:65]
    assert inside > 40  # full strength right up to the box's edge
    assert 5 < feather < inside  # partly blended just outside it
    assert (outside == 0).all()
    assert (diff[:60] == 0).all()


def _pixel_block(face: int, rng: np.random.Generator) -> float:
    size = 2 * face + 20
    ramp = np.linspace(0, 255, size)[None, :, None] + rng.normal(0, 2, (size, size, 3))
    image = np.clip(ramp, 0, 255).astype(np.uint8)  # block means rise block by block along a row
    box = np.array([[10, 10, 10 + face, 10 + face, 0.9]], dtype=np.float64)
    out = apply_masks(image, box, method="pixelate", shape="box", mask_scale=1.0)
    row = out[10 + face // 2, 10 : 10 + face, 0].astype(int)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[-1, row, -1]) != 0))  # lengths of runs of equal pixels
    return float(np.median(runs))


@pytest.mark.parametrize("face", [20, 40, 100, 400])
def test_pixelate_blocks_are_proportional_to_face_size(face: int) -> None:
    block = _pixel_block(face, np.random.default_rng(face))
    assert 0.15 * face <= block <= 0.3 * face or (face == 20 and block >= 3)


def test_pixelate_strength_grows_with_face_size() -> None:
    rng = np.random.default_rng(1)
    blocks = [_pixel_block(face, rng) for face in (20, 40, 100, 400)]
    assert blocks == sorted(blocks)
    assert blocks[-1] >= 10 * blocks[0]


@pytest.mark.parametrize("method", ["fill", "blur", "pixelate"])
def test_faces_at_and_beyond_the_border_are_masked_without_error(method: str) -> None:
    image = np.random.default_rng(0).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    boxes = np.array([[-20, -20, 15, 15, 0.9], [50, 40, 80, 70, 0.9], [100, 100, 120, 120, 0.9]])
    out = apply_masks(image, boxes, method=method)
    assert out.shape == image.shape
    assert (out[:5, :5] != image[:5, :5]).any()
    assert (out[-3:, -3:] != image[-3:, -3:]).any()


def test_no_boxes_returns_an_unchanged_copy() -> None:
    image = gradient(20, 10)
    out = apply_masks(image, np.zeros((0, 5)))
    assert out is not image
    assert (out == image).all()


@pytest.mark.parametrize(
    ("kwargs", "boxes"),
    [
        ({"method": "smudge"}, FACES),
        ({"shape": "star"}, FACES),
        ({"fill": "red"}, FACES),
        ({}, np.zeros((3, 3))),
    ],
)
def test_bad_arguments_are_invalid_requests(kwargs: dict[str, str], boxes: npt.NDArray[np.float64]) -> None:
    with pytest.raises(InvalidRequestError):
        apply_masks(gradient(160, 120), boxes, **kwargs)  # type: ignore[arg-type]


def test_mask_regions_scale_about_the_centre() -> None:
    regions = mask_regions(np.array([[10, 20, 30, 60, 0.9]]), 1.5)
    assert regions.tolist() == [[5.0, 10.0, 35.0, 70.0]]

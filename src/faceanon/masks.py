"""Face masks over the detector's boxes: solid fill (default), elliptical blur, or pixelation.

Every mask works on the bounding patch of one face (vectorised NumPy, or Pillow's C blur), never on the whole
image per face. A face's mask region is its detected box scaled by ``mask_scale`` about the box centre; with
``shape="ellipse"`` it is the ellipse inscribed in that region (pixel centres inside), with ``"box"`` the
whole region.

* ``fill``: every pixel of the region becomes the fill colour, or fresh random noise (``fill="noise"``).
* ``blur``: a Gaussian blur whose sigma is ``BLUR_SIGMA_PER_SIZE`` x the face size (the larger side of the
  detected box, at least ``MIN_BLUR_SIGMA`` px): at full strength everywhere in the region, feathered to zero
  over a band ``FEATHER`` x the region's radius *outside* it, so the feather never weakens the face itself.
* ``pixelate``: blocks of ``PIXELATE_BLOCK_PER_SIZE`` x the face size (at least ``MIN_PIXELATE_BLOCK`` px), each
  the mean colour of its block, so a face is always about five blocks across whatever its size.
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from .errors import InvalidRequestError

RGBImage = npt.NDArray[np.uint8]
Boxes = npt.NDArray[np.float32] | npt.NDArray[np.float64]

BLUR_SIGMA_PER_SIZE = 0.15
MIN_BLUR_SIGMA = 2.0
FEATHER = 0.15
PIXELATE_BLOCK_PER_SIZE = 0.2
MIN_PIXELATE_BLOCK = 3


def face_size(box: Sequence[float] | npt.NDArray[np.floating]) -> float:
    """The larger side of a detected box: what blur sigma and pixel block size scale with."""
    return float(max(box[2] - box[0], box[3] - box[1]))


def blur_sigma(size: float) -> float:
    return max(MIN_BLUR_SIGMA, BLUR_SIGMA_PER_SIZE * size)


def pixelate_block(size: float) -> int:
    return max(MIN_PIXELATE_BLOCK, round(PIXELATE_BLOCK_PER_SIZE * size))


def parse_fill(fill: str) -> tuple[int, int, int] | None:
    """``#rrggbb`` -> (r, g, b); ``noise`` -> None."""
    if fill == "noise":
        return None
    if len(fill) != 7 or fill[0] != "#":
        raise InvalidRequestError("fill must be #rrggbb or noise")
    try:
        return int(fill[1:3], 16), int(fill[3:5], 16), int(fill[5:7], 16)
    except ValueError as exc:
        raise InvalidRequestError("fill must be #rrggbb or noise") from exc


def mask_regions(boxes: Boxes, mask_scale: float) -> npt.NDArray[np.float64]:
    """Detected boxes [N, >=4] scaled by mask_scale about their centres -> [N, 4] (x1, y1, x2, y2)."""
    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 4))
    centre = (array[:, 0:2] + array[:, 2:4]) / 2
    half = (array[:, 2:4] - array[:, 0:2]) * (mask_scale / 2)
    return np.concatenate([centre - half, centre + half], axis=1)


def _patch(region: npt.NDArray[np.float64], pad: float, height: int, width: int) -> tuple[int, int, int, int]:
    """Integer bounds (top, bottom, left, right) of region grown by pad on each side, clipped to the image."""
    x1, y1, x2, y2 = region
    top = max(0, int(np.floor(y1 - pad)))
    bottom = min(height, int(np.ceil(y2 + pad)))
    left = max(0, int(np.floor(x1 - pad)))
    right = min(width, int(np.ceil(x2 + pad)))
    return top, bottom, left, right


def _distance(
    region: npt.NDArray[np.float64], bounds: tuple[int, int, int, int], shape: str
) -> npt.NDArray[np.float64]:
    """Normalised distance of each patch pixel centre from the region centre: <= 1 inside the region."""
    x1, y1, x2, y2 = region
    top, bottom, left, right = bounds
    ys = np.arange(top, bottom, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(left, right, dtype=np.float64)[None, :] + 0.5
    rx = max((x2 - x1) / 2, 1e-6)
    ry = max((y2 - y1) / 2, 1e-6)
    # A box covers every pixel it touches (centre within half a pixel of it); an ellipse the pixel centres inside.
    slack = 0.5 if shape == "box" else 0.0
    dx = np.maximum(np.abs(xs - (x1 + x2) / 2) - slack, 0.0) / rx
    dy = np.maximum(np.abs(ys - (y1 + y2) / 2) - slack, 0.0) / ry
    distance: npt.NDArray[np.float64] = np.maximum(dx, dy) if shape == "box" else np.sqrt(dx**2 + dy**2)
    return distance


def apply_masks(
    rgb: RGBImage,
    boxes: Boxes,
    *,
    method: str = "fill",
    shape: str = "ellipse",
    fill: str = "#000000",
    mask_scale: float = 1.5,
    rng: np.random.Generator | None = None,
) -> RGBImage:
    """A masked copy of rgb (H x W x 3 uint8); boxes [N, >=4] are detected boxes in rgb's pixels."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InvalidRequestError("image to mask must be H x W x 3 uint8")
    if shape not in ("ellipse", "box"):
        raise InvalidRequestError("shape must be ellipse or box")
    colour = parse_fill(fill) if method == "fill" else None
    generator = rng if rng is not None else np.random.default_rng()
    out = rgb.copy()
    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return out
    if array.ndim != 2 or array.shape[1] < 4:
        raise InvalidRequestError("boxes must be N x 4 (or N x 5 with scores)")
    regions = mask_regions(array, mask_scale)
    for box, region in zip(array, regions, strict=True):
        size = face_size(box)
        if method == "fill":
            _fill(out, region, shape, colour, generator)
        elif method == "blur":
            _blur(out, region, shape, blur_sigma(size))
        elif method == "pixelate":
            _pixelate(out, region, shape, pixelate_block(size))
        else:
            raise InvalidRequestError("method must be fill, blur or pixelate")
    return out


def _fill(
    out: RGBImage,
    region: npt.NDArray[np.float64],
    shape: str,
    colour: tuple[int, int, int] | None,
    rng: np.random.Generator,
) -> None:
    bounds = _patch(region, 0.0, *out.shape[:2])
    top, bottom, left, right = bounds
    if bottom <= top or right <= left:
        return
    inside = _distance(region, bounds, shape) <= 1.0
    patch = out[top:bottom, left:right]
    if colour is None:
        patch[inside] = rng.integers(0, 256, size=(int(inside.sum()), 3), dtype=np.uint8)
    else:
        patch[inside] = colour


def _blur(out: RGBImage, region: npt.NDArray[np.float64], shape: str, sigma: float) -> None:
    radius = max(region[2] - region[0], region[3] - region[1]) / 2
    feather = max(1.0, FEATHER * radius)
    # Context around the region so the blur averages real surroundings, not a clamped edge.
    bounds = _patch(region, feather + 2 * sigma, *out.shape[:2])
    top, bottom, left, right = bounds
    if bottom <= top or right <= left:
        return
    patch = out[top:bottom, left:right]
    blurred = np.asarray(Image.fromarray(patch).filter(ImageFilter.GaussianBlur(sigma)), dtype=np.float32)
    distance = _distance(region, bounds, shape)
    # Weight 1 inside the region, falling linearly to 0 over `feather` pixels (in normalised units) outside.
    weight = np.clip(1.0 - (distance - 1.0) * (radius / feather), 0.0, 1.0)[:, :, None].astype(np.float32)
    mixed = blurred * weight + patch.astype(np.float32) * (1.0 - weight)
    patch[...] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def _pixelate(out: RGBImage, region: npt.NDArray[np.float64], shape: str, block: int) -> None:
    bounds = _patch(region, 0.0, *out.shape[:2])
    top, bottom, left, right = bounds
    if bottom <= top or right <= left:
        return
    patch = out[top:bottom, left:right]
    rows, cols = patch.shape[:2]
    pad_rows, pad_cols = -rows % block, -cols % block
    padded = np.pad(patch, ((0, pad_rows), (0, pad_cols), (0, 0)), mode="edge").astype(np.float32)
    grid_rows, grid_cols = padded.shape[0] // block, padded.shape[1] // block
    means = padded.reshape(grid_rows, block, grid_cols, block, 3).mean(axis=(1, 3))
    blocks = np.repeat(np.repeat(np.rint(means).astype(np.uint8), block, axis=0), block, axis=1)[:rows, :cols]
    inside = _distance(region, bounds, shape) <= 1.0
    patch[inside] = blocks[inside]

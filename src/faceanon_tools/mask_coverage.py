"""How much of each labelled face a mask covers: the ellipse inscribed in a face box, and its changed share."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def ellipse_in_box(box: Sequence[float], height: int, width: int) -> tuple[slice, slice, npt.NDArray[np.bool_]]:
    """The ellipse inscribed in box as a boolean patch, with the slices placing it in an H x W image."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    top, bottom = max(0, int(np.floor(y1))), min(height, int(np.ceil(y2)))
    left, right = max(0, int(np.floor(x1))), min(width, int(np.ceil(x2)))
    ys = np.arange(top, bottom, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(left, right, dtype=np.float64)[None, :] + 0.5
    cy, cx = (y1 + y2) / 2, (x1 + x2) / 2
    ry, rx = max((y2 - y1) / 2, 1e-6), max((x2 - x1) / 2, 1e-6)
    inside = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1.0
    return slice(top, bottom), slice(left, right), inside


def face_pixel_coverage(changed: npt.NDArray[np.bool_], labels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """For each labelled box, the share of its inscribed-ellipse pixels that are marked changed (H x W)."""
    height, width = changed.shape
    shares = np.zeros(len(labels))
    for i, box in enumerate(labels):
        rows, cols, inside = ellipse_in_box(box, height, width)
        count = int(inside.sum())
        shares[i] = float(changed[rows, cols][inside].sum()) / count if count else 1.0
    return shares

"""Box utilities shared by the detector, the masks and the evaluation: IoU and non-maximum suppression."""

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Pairwise IoU of boxes a [N, >=4] and b [M, >=4] in (x1, y1, x2, y2) form -> [N, M]."""
    a = np.asarray(a, dtype=np.float64)[:, :4]
    b = np.asarray(b, dtype=np.float64)[:, :4]
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def nms(dets: FloatArray, iou_threshold: float) -> FloatArray:
    """Greedy NMS over dets [N, 5] (x1, y1, x2, y2, score); returns the kept rows, best score first."""
    if len(dets) == 0:
        return dets
    dets = dets[np.argsort(-dets[:, 4], kind="stable")]
    x1, y1, x2, y2 = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    remaining = np.arange(len(dets))
    keep = []
    # One iteration per kept box, each a vectorised IoU against the boxes still in play: O(N * kept)
    # time and O(N) memory, where a full IoU matrix would need O(N^2) memory on crowded photos.
    while remaining.size:
        best, rest = remaining[0], remaining[1:]
        keep.append(best)
        w = np.clip(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0, None)
        inter = w * h
        union = areas[best] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        remaining = rest[iou < iou_threshold]
    return dets[keep]

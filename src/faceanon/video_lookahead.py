"""Backfill for detection every Nth frame: the frames between two detections are masked only once the second
detection is known, so each face found there is also masked in the frames before it.

Without it, a face that enters between detections is shown until the next detection, and a face that changes
speed is masked where the tracker extrapolated it, not where it was. With it, the frames between detections
k-N and k get, for every face detected at k: its box interpolated from where the same track was at k-N, or
(a face new at k) its box at k, grown by faceanon.tracking's NEW_TRACK_GROW per frame back from k. These boxes
are added to the tracker's own (extrapolated) boxes, never replace them: privacy first.

Costs N-1 decoded frames held in memory (``every`` is at most 30).
"""

import numpy as np
import numpy.typing as npt

from .tracking import NEW_TRACK_GROW

FloatArray = npt.NDArray[np.float32]


def backfill(previous: FloatArray, detected: FloatArray, gaps: int) -> list[FloatArray]:
    """Extra boxes [K, 6] for each of the ``gaps`` frames between two detected frames, oldest first.

    previous: the boxes [M, 6] (x1, y1, x2, y2, score, track_id) masked at the earlier detected frame;
    detected: the rows [D, 6] of the later detected frame that are detections (the tracker returns them first).
    """
    if gaps <= 0:
        return []
    if len(detected) == 0:
        return [np.zeros((0, 6), dtype=np.float32) for _ in range(gaps)]
    earlier = {int(row[5]): row for row in previous[::-1]}  # the first row of a track wins (its detection)
    frames: list[FloatArray] = []
    for gap in range(1, gaps + 1):
        back = gaps + 1 - gap  # frames from this one to the later detection
        rows = []
        for row in detected.astype(np.float64):
            before = earlier.get(int(row[5]))
            if before is not None:
                t = gap / (gaps + 1)
                box = (1 - t) * before[:4].astype(np.float64) + t * row[:4]
            else:
                centre = (row[0:2] + row[2:4]) / 2
                half = (row[2:4] - row[0:2]) / 2 * (1 + NEW_TRACK_GROW * back)
                box = np.concatenate([centre - half, centre + half])
            rows.append((*box, row[4], row[5]))
        frames.append(np.asarray(rows, dtype=np.float32))
    return frames

"""Detectors that stand in for CenterFace: they return boxes the tests choose, and record their calls."""

import numpy as np
import numpy.typing as npt

MARKER = (255, 0, 0)  # what FakeDetector calls a face


class FakeDetector:
    """Finds "faces" as the bounding box of pure-red marker pixels (or returns fixed boxes); records calls."""

    model_sha256 = "fake-model"

    def __init__(self, boxes: npt.ArrayLike | None = None, score: float = 0.9) -> None:
        self.boxes = None if boxes is None else np.asarray(boxes, dtype=np.float32).reshape(-1, 5)
        self.score = score
        self.calls: list[tuple[tuple[int, ...], float | None]] = []
        self.detections: list[str] = []

    def detect(
        self, rgb: npt.NDArray[np.uint8], *, threshold: float | None, detection: str = "default"
    ) -> npt.NDArray[np.float32]:
        self.calls.append((rgb.shape, threshold))
        self.detections.append(detection)
        if self.boxes is not None:
            return self.boxes.copy()
        red = (rgb[:, :, 0] > 180) & (rgb[:, :, 1] < 80) & (rgb[:, :, 2] < 80)
        rows, cols = np.nonzero(red)
        if rows.size == 0:
            return np.zeros((0, 5), dtype=np.float32)
        box = [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1, self.score]
        return np.asarray([box], dtype=np.float32)


class BoxDetector:
    """Returns arbitrary boxes for any frame (fractions of its size), so masks run on every hostile image."""

    model_sha256 = "box-detector"

    def __init__(self, boxes: npt.ArrayLike = ((0.25, 0.25, 0.75, 0.75, 0.9),)) -> None:
        self.fractions = np.asarray(boxes, dtype=np.float32).reshape(-1, 5)
        self.calls = 0

    def detect(
        self, rgb: npt.NDArray[np.uint8], *, threshold: float | None, detection: str = "default"
    ) -> npt.NDArray[np.float32]:
        self.calls += 1
        height, width = rgb.shape[:2]
        boxes = self.fractions.copy()
        boxes[:, [0, 2]] *= width
        boxes[:, [1, 3]] *= height
        return boxes

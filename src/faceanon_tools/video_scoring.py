"""Scoring masked video frames against per-frame face labels (faceanon_tools.video_clips).

Per labelled face-frame (ignore boxes left out):

* **recall by face size**: the face is found when a masked box (the detected or tracked box, before the mask
  scale) takes it one-to-one with IoU >= 0.5 (faceanon_tools.scoring.match_detections), by face-height bin;
* **coverage**: the share of the ellipse inscribed in the labelled box that the frame's masks cover;
* **exposed**: a face >= 20 px tall with coverage < 0.9;
* **flicker**: among faces >= 20 px labelled in two consecutive frames, the pairs whose state (covered >= 0.9 or
  not) changes.

What a mask covers comes from a ``Geometry``: faceanon's (``faceanon_geometry``: faceanon.masks' own regions,
drawn by apply_masks) or deface's (``deface_geometry``: its integer, scaled, clipped box and the ellipse in it).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from faceanon.masks import apply_masks

from .mask_coverage import face_pixel_coverage
from .scoring import HEIGHT_BINS, height_bin, match_detections
from .video_clips import FrameLabels

EXPOSED_MIN_HEIGHT = 20.0  # px: a smaller labelled face is not counted as exposed
COVERED_SHARE = 0.9  # a face is covered when at least this share of its ellipse is masked

# (masked boxes [M, >=4], height, width) -> H x W bool: the pixels the masks replace.
Geometry = Callable[[npt.NDArray[np.floating], int, int], npt.NDArray[np.bool_]]


def faceanon_geometry(mask_scale: float = 1.5, shape: str = "ellipse") -> Geometry:
    """faceanon's masks exactly: apply_masks' fill over a blank frame, so the geometry is the product's."""

    def covered(boxes: npt.NDArray[np.floating], height: int, width: int) -> npt.NDArray[np.bool_]:
        blank = np.zeros((height, width, 3), dtype=np.uint8)
        masked = apply_masks(blank, np.asarray(boxes)[:, :4], fill="#ffffff", shape=shape, mask_scale=mask_scale)
        result: npt.NDArray[np.bool_] = masked[:, :, 0] == 255
        return result

    return covered


def deface_geometry(mask_scale: float = 1.3) -> Geometry:
    """deface 1.5.0's ellipse exactly (anonymize_frame, scale_bb, draw_det): the box truncated to ints, each side
    pushed out by (mask_scale - 1) x its size and rounded, clipped to [0, size - 1], and skimage's ellipse in it."""
    from skimage.draw import ellipse  # deface's own dependency

    def covered(boxes: npt.NDArray[np.floating], height: int, width: int) -> npt.NDArray[np.bool_]:
        mask = np.zeros((height, width), dtype=bool)
        grow = mask_scale - 1.0
        for row in np.asarray(boxes, dtype=np.float64).reshape(len(boxes), -1):
            x1, y1, x2, y2 = (int(v) for v in row[:4])
            w, h = x2 - x1, y2 - y1
            x1, x2 = max(0, round(x1 - w * grow)), min(width - 1, round(x2 + w * grow))
            y1, y2 = max(0, round(y1 - h * grow)), min(height - 1, round(y2 + h * grow))
            if x2 <= x1 or y2 <= y1:
                continue
            ey, ex = ellipse((y2 - y1) // 2, (x2 - x1) // 2, (y2 - y1) // 2, (x2 - x1) // 2)  # type: ignore[no-untyped-call]
            roi = mask[y1:y2, x1:x2]
            keep = (ey < roi.shape[0]) & (ex < roi.shape[1])
            roi[ey[keep], ex[keep]] = True
        return mask

    return covered


@dataclass
class VideoScore:
    """Counts over the frames of one or more clips for one configuration."""

    faces: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _, _ in HEIGHT_BINS})
    found: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _, _ in HEIGHT_BINS})
    eligible: int = 0  # labelled face-frames >= EXPOSED_MIN_HEIGHT
    exposed: int = 0
    pairs: int = 0  # consecutive-frame pairs of one eligible face
    flips: int = 0  # of those, the pairs whose covered state changes
    frames: int = 0
    masked_boxes: int = 0

    def add(self, other: "VideoScore") -> None:
        for name in self.faces:
            self.faces[name] += other.faces[name]
            self.found[name] += other.found[name]
        self.eligible += other.eligible
        self.exposed += other.exposed
        self.pairs += other.pairs
        self.flips += other.flips
        self.frames += other.frames
        self.masked_boxes += other.masked_boxes

    def recall(self, name: str) -> float | None:
        return self.found[name] / self.faces[name] if self.faces[name] else None

    def summary(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "recall": {name: self.recall(name) for name in self.faces},
            "faces": dict(self.faces),
            "found": dict(self.found),
            "eligible_face_frames": self.eligible,
            "exposed_face_frames": self.exposed,
            "flicker_pairs": self.pairs,
            "flicker_flips": self.flips,
            "masked_boxes_per_frame": self.masked_boxes / self.frames if self.frames else 0.0,
        }


class ClipScorer:
    """Feed one clip's frames in order (labels + masked boxes); read ``score`` at the end."""

    def __init__(self, geometry: Geometry, height: int, width: int) -> None:
        self.geometry = geometry
        self.height, self.width = height, width
        self.score = VideoScore()
        self._last_state: dict[int, bool] = {}

    def frame(self, labels: FrameLabels, masked: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """Score one frame; masked [M, >=4] (a score in column 4 orders matching; missing: all equal).

        Returns the coverage of each labelled face (the frame's labels order)."""
        boxes = np.asarray(masked, dtype=np.float64)
        boxes = boxes.reshape(-1, boxes.shape[-1]) if boxes.size else np.zeros((0, 5))
        scored = boxes[:, :5] if boxes.shape[1] >= 5 else np.concatenate([boxes, np.ones((len(boxes), 1))], axis=1)
        self.score.frames += 1
        self.score.masked_boxes += len(boxes)
        matching = match_detections(labels.boxes, labels.ignore, scored)
        heights = labels.boxes[:, 3] - labels.boxes[:, 1]
        for matched, ignored, face_height in zip(matching.face_matched, labels.ignore, heights, strict=True):
            if not ignored:
                name = height_bin(float(face_height))
                self.score.faces[name] += 1
                self.score.found[name] += int(matched)
        covered_pixels = self.geometry(boxes, self.height, self.width) if len(boxes) else None
        if covered_pixels is None:
            coverage = np.zeros(len(labels.boxes))
        else:
            coverage = face_pixel_coverage(covered_pixels, labels.boxes)
        state: dict[int, bool] = {}
        for face_id, ignored, face_height, share in zip(labels.ids, labels.ignore, heights, coverage, strict=True):
            if ignored or face_height < EXPOSED_MIN_HEIGHT:
                continue
            covered = bool(share >= COVERED_SHARE)
            self.score.eligible += 1
            self.score.exposed += int(not covered)
            previous = self._last_state.get(int(face_id))
            if previous is not None:
                self.score.pairs += 1
                self.score.flips += int(previous != covered)
            state[int(face_id)] = covered
        self._last_state = state
        return coverage

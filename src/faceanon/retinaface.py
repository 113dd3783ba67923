"""The second opinion: RetinaFace-MobileNet0.25 (fp32 ONNX, built by models/build_verifier.py) on ONNX Runtime.

CenterFace's false faces on photos without people (maps, brick walls, shorelines) are mostly boxes of 20 px and
more that it scores between 0.25 and 0.7. RetinaFace, trained differently, scores almost none of them; but on its
own it misses far more real faces than CenterFace (BENCHMARKS.md). So it only *verifies*: ``verify`` crops each
box with context, scales the crop so the face is ``face_px`` tall, runs every crop of a photo as one batch and
returns each box's best RetinaFace score that overlaps it. Which boxes are checked and what score keeps them is
the strategy's (faceanon.strategy.Verify). ``detect(rgb)`` is the plain single-pass contract, float32 [N, 5].

The network: input "input" NCHW float32 BGR minus the training mean (104, 117, 123), any size a multiple of 32;
outputs loc [B, A, 4], conf [B, A, 2] (softmaxed; column 1 is "face") and landmarks [B, A, 10], over anchors of
16/32, 64/128 and 256/512 px at strides 8, 16 and 32 (cell-major, sizes inner), offsets scaled by variances 0.1
(centre) and 0.2 (log size), as in biubug6/Pytorch_Retinaface's PriorBox and decode.
"""

import math
from functools import cache
from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt
from PIL import Image

from .centerface import ALIGN, INFERENCE_ERRORS, RGBImage, Session, as_rgb_uint8, build_session, clip_boxes, input_name
from .errors import InvalidRequestError, ModelError
from .nms import FloatArray, nms

STEPS = (8, 16, 32)
ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
CENTRE_VARIANCE, SIZE_VARIANCE = 0.1, 0.2
MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
MEAN_RGB_FILL = (123, 117, 104)  # crops reaching past the photo's edge are filled with the mean: 0 after subtraction
DEFAULT_NMS_IOU = 0.4  # upstream's


@cache
def anchors(height: int, width: int) -> npt.NDArray[np.float32]:
    """[A, 4] anchors (centre x, centre y, w, h) in input pixels for an input of height x width."""
    per_level = []
    for step, sizes in zip(STEPS, ANCHOR_SIZES, strict=True):
        rows, cols = math.ceil(height / step), math.ceil(width / step)
        yy, xx = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        centres = np.stack([(xx.ravel() + 0.5) * step, (yy.ravel() + 0.5) * step], axis=1)
        cells = np.repeat(centres, len(sizes), axis=0)
        side = np.tile(np.asarray(sizes, dtype=np.float64), rows * cols)[:, None]
        per_level.append(np.concatenate([cells, side, side], axis=1))
    result = np.concatenate(per_level).astype(np.float32)
    result.setflags(write=False)
    return result


def decode_boxes(loc: npt.NDArray[np.float32], priors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Boxes (x1, y1, x2, y2) from loc [..., A, 4] and priors [A, 4]."""
    centre = priors[:, :2] + loc[..., :2] * CENTRE_VARIANCE * priors[:, 2:]
    size = priors[:, 2:] * np.exp(loc[..., 2:] * SIZE_VARIANCE)
    return np.concatenate([centre - size / 2, centre + size / 2], axis=-1).astype(np.float32)


def to_blob(bgr_batch: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """[B, H, W, 3] uint8 BGR -> [B, 3, H, W] float32 minus the mean (H and W already multiples of 32)."""
    return np.ascontiguousarray((bgr_batch.astype(np.float32) - MEAN_BGR).transpose(0, 3, 1, 2))


class RetinaFace:
    """One session and its names; safe to call many times (not from many threads)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.input_name = input_name(session, "verifier")
        names = [output.name for output in session.get_outputs()]
        if {"loc", "conf"} <= set(names):
            self.output_names = ["loc", "conf"]
        elif len(names) >= 2:
            self.output_names = names[:2]
        else:
            raise ModelError("verifier model has fewer than two outputs")

    @classmethod
    def from_path(cls, model_path: Path, *, intra_op_threads: int = 1) -> Self:
        return cls(build_session(model_path, intra_op_threads=intra_op_threads))

    def infer(self, bgr_batch: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Boxes [B, A, 4] in input pixels and face scores [B, A] for a batch of BGR images."""
        try:
            loc, conf = self.session.run(self.output_names, {self.input_name: to_blob(bgr_batch)})
        except INFERENCE_ERRORS as exc:
            raise ModelError("verifier inference failed") from exc
        priors = anchors(bgr_batch.shape[1], bgr_batch.shape[2])
        if loc.shape[-2] != len(priors):
            raise ModelError("verifier model output does not match its anchors")
        return decode_boxes(loc, priors), conf[..., 1]

    def detect(self, rgb: npt.ArrayLike, *, threshold: float, nms_iou: float = DEFAULT_NMS_IOU) -> FloatArray:
        """Faces of one pass over rgb as it is: float32 [N, 5] (x1, y1, x2, y2, score), best first."""
        if not 0.0 < threshold < 1.0:
            raise InvalidRequestError("threshold must be between 0 and 1")
        image = as_rgb_uint8(rgb)
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return np.empty((0, 5), dtype=np.float32)
        padded = np.zeros((1, -(-height // ALIGN) * ALIGN, -(-width // ALIGN) * ALIGN, 3), dtype=np.uint8)
        padded[0, :height, :width] = image[:, :, ::-1]
        padded[0, height:, :] = MEAN_RGB_FILL[::-1]
        padded[0, :, width:] = MEAN_RGB_FILL[::-1]
        boxes, scores = self.infer(padded)
        keep = scores[0] >= threshold
        dets = np.concatenate([boxes[0][keep], scores[0][keep, None]], axis=1)
        return clip_boxes(nms(dets, nms_iou), width, height)

    def verify(self, rgb: RGBImage, boxes: FloatArray, *, context: float, face_px: int) -> npt.NDArray[np.float32]:
        """For each box [N, >=4] of rgb: the best RetinaFace score of a box that overlaps it (IoU >= 0.3, or its
        centre inside), seen in a square crop ``context`` times the box's longer side, scaled so the box is
        ``face_px`` tall; 0 when none does. One batched run for all boxes."""
        if len(boxes) == 0:
            return np.zeros(0, dtype=np.float32)
        side_px = -(-math.ceil(context * face_px) // ALIGN) * ALIGN
        photo = Image.fromarray(rgb)
        crops = np.empty((len(boxes), side_px, side_px, 3), dtype=np.uint8)
        expected = np.empty((len(boxes), 4), dtype=np.float32)
        for index, (x1, y1, x2, y2) in enumerate(boxes[:, :4].tolist()):
            side = max(x2 - x1, y2 - y1, 1.0) * context
            left, top = (x1 + x2 - side) / 2, (y1 + y2 - side) / 2
            crop = photo.transform(
                (side_px, side_px),
                Image.Transform.EXTENT,
                (left, top, left + side, top + side),
                Image.Resampling.BILINEAR,
                fillcolor=MEAN_RGB_FILL,
            )
            crops[index] = np.asarray(crop)[:, :, ::-1]
            scale = side_px / side
            expected[index] = ((x1 - left) * scale, (y1 - top) * scale, (x2 - left) * scale, (y2 - top) * scale)
        found, scores = self.infer(crops)
        return np.where(_overlapping(found, expected), scores, 0.0).max(axis=1).astype(np.float32)


def _overlapping(found: npt.NDArray[np.float32], expected: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """[B, A]: found[b, a] overlaps expected[b] (IoU >= 0.3, or found's centre inside expected)."""
    box = expected[:, None, :]
    inter_w = np.clip(np.minimum(found[..., 2], box[..., 2]) - np.maximum(found[..., 0], box[..., 0]), 0, None)
    inter_h = np.clip(np.minimum(found[..., 3], box[..., 3]) - np.maximum(found[..., 1], box[..., 1]), 0, None)
    inter = inter_w * inter_h
    area_found = (found[..., 2] - found[..., 0]) * (found[..., 3] - found[..., 1])
    area_box = (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])
    iou = inter / np.maximum(area_found + area_box - inter, 1e-9)
    centre_x = (found[..., 0] + found[..., 2]) / 2
    centre_y = (found[..., 1] + found[..., 3]) / 2
    inside_x = (centre_x >= box[..., 0]) & (centre_x <= box[..., 2])
    inside = inside_x & (centre_y >= box[..., 1]) & (centre_y <= box[..., 3])
    overlapping: npt.NDArray[np.bool_] = (iou >= 0.3) | inside
    return overlapping

"""The one anonymisation entry point, shared by the CLI and the Lambda handlers.

``anonymise(data, settings)`` decodes (bounded), detects faces in every frame, masks them and encodes the
result with no metadata. It fails closed: any problem raises a :class:`~faceanon.errors.FaceAnonError` (or
propagates), and no partially masked image is ever returned.

Review rule (``AnonymiseResult.review``): a result is flagged for a human look when

* ``low_score``: some masked face scored below ``threshold + REVIEW_SCORE_BAND`` — the detector was unsure
  there, and faces it was unsure of are the ones it also misses nearby;
* ``crowded``: some frame has more than ``REVIEW_CROWD`` faces — crowds are where small faces get missed.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .detector import CenterFaceDetector
from .errors import ModelError
from .images import decode, encode
from .masks import apply_masks
from .model import model_sha256, resolve_model_path
from .settings import Settings
from .strategy import get_strategy

REVIEW_SCORE_BAND = 0.1
REVIEW_CROWD = 40


class Detector(Protocol):
    """What anonymise needs of a detector (CenterFaceDetector; a fake one in tests)."""

    def detect(self, rgb: npt.NDArray[np.uint8], *, threshold: float | None, detection: str) -> npt.NDArray[np.float32]:
        """Faces as float32 [N, 5] rows of (x1, y1, x2, y2, score) in rgb's pixels.

        threshold None means the detection strategy's own; detection is "default" or "fast".
        """
        ...


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in upright output pixels
    score: float
    frame: int = 0

    def as_row(self) -> list[float]:
        """``[x1, y1, x2, y2, score]`` rounded for humans (0.1 px, 4 decimals): the one place faces are rounded."""
        return [*(round(v, 1) for v in self.box), round(self.score, 4)]

    def to_report(self) -> dict[str, Any]:
        """``{"box": [x1, y1, x2, y2], "score": s, "frame"?: n}`` (frame only past the first): faces as JSON."""
        *box, score = self.as_row()
        report: dict[str, Any] = {"box": box, "score": score}
        if self.frame:
            report["frame"] = self.frame
        return report


def faces_from_detections(dets: npt.NDArray[np.float32], frame: int = 0) -> tuple[Face, ...]:
    """One frame's detector rows (x1, y1, x2, y2, score) as Faces."""
    return tuple(
        Face(box=(float(d[0]), float(d[1]), float(d[2]), float(d[3])), score=float(d[4]), frame=frame) for d in dets
    )


@dataclass(frozen=True)
class AnonymiseResult:
    """One anonymised image and how it was made: what the CLI, the Lambda handlers and the audit record read."""

    image: bytes
    content_type: str
    format: str
    width: int
    height: int
    faces: tuple[Face, ...]
    method: str
    shape: str
    mask_scale: float
    threshold: float
    model_sha256: str
    timings_ms: dict[str, float]
    review: bool
    review_reasons: tuple[str, ...]
    frames: int = 1
    verifier_sha256: str = ""  # the RetinaFace verifier's file when the strategy used one (faceanon.strategy.Verify)

    @property
    def face_count(self) -> int:
        return len(self.faces)

    def faces_report(self) -> list[dict[str, Any]]:
        """The faces as JSON objects (the report, the API's ``boxes`` and the audit record's ``faces``)."""
        return [face.to_report() for face in self.faces]

    def faces_as_rows(self) -> list[list[float]]:
        """The faces as compact ``[x1, y1, x2, y2, score]`` rows (the CLI's per-file records)."""
        return [face.as_row() for face in self.faces]

    def to_report(self) -> dict[str, Any]:
        """Everything but the image bytes, JSON-able (for the CLI report, API headers and audit logs)."""
        return {
            "format": self.format,
            "content_type": self.content_type,
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "face_count": self.face_count,
            "faces": self.faces_report(),
            "method": self.method,
            "shape": self.shape,
            "mask_scale": self.mask_scale,
            "threshold": self.threshold,
            "model_sha256": self.model_sha256,
            "verifier_sha256": self.verifier_sha256,
            "timings_ms": dict(self.timings_ms),
            "review": self.review,
            "review_reasons": list(self.review_reasons),
        }


# anonymise bound to one detector, as the Lambda handlers pass it on: (image bytes, settings) -> result.
Anonymise = Callable[[bytes, Settings], AnonymiseResult]


@cache
def _build_detector(model_path: Path, intra_op_threads: int) -> CenterFaceDetector:
    return CenterFaceDetector(model_path, intra_op_threads=intra_op_threads)


def get_detector(settings: Settings) -> CenterFaceDetector:
    """The process-wide detector for these settings: built on first use, then reused (Lambda warm starts)."""
    return _build_detector(resolve_model_path(settings.model_path), settings.intra_op_threads)


def detector_sha256(detector: object) -> str:
    """The model identity for audit records: sha256 of the detector's model file when it has one."""
    path = getattr(detector, "model_path", None)
    if isinstance(path, Path):
        return model_sha256(path)
    identity = getattr(detector, "model_sha256", None)
    return identity if isinstance(identity, str) else "unknown"


def verifier_sha256(detector: object, detection: str) -> str:
    """The verifier's identity for audit records: sha256 of its file when the strategy asks for one, else ""."""
    path = getattr(detector, "verifier_path", None)
    if isinstance(path, Path) and get_strategy(detection).verify is not None:
        return model_sha256(path)
    return ""


def detect_faces(detector: Detector, rgb: npt.NDArray[np.uint8], settings: Settings) -> npt.NDArray[np.float32]:
    """One frame's faces [N, 5]; the single place where the detection strategy (settings.detection) applies."""
    found = detector.detect(rgb, threshold=settings.threshold, detection=settings.detection)
    dets = np.asarray(found, dtype=np.float32)
    if dets.size == 0:
        return np.zeros((0, 5), dtype=np.float32)
    if dets.ndim != 2 or dets.shape[1] < 5 or not np.isfinite(dets[:, :5]).all():
        raise ModelError("detector returned malformed boxes")
    return dets[:, :5]


def review_reasons(faces: tuple[Face, ...], threshold: float) -> tuple[str, ...]:
    reasons = []
    if any(face.score < threshold + REVIEW_SCORE_BAND for face in faces):
        reasons.append("low_score")
    per_frame: dict[int, int] = {}
    for face in faces:
        per_frame[face.frame] = per_frame.get(face.frame, 0) + 1
    if any(count > REVIEW_CROWD for count in per_frame.values()):
        reasons.append("crowded")
    return tuple(reasons)


def anonymise(data: bytes, settings: Settings, detector: Detector | None = None) -> AnonymiseResult:
    """Mask every face in every frame of an image; raises rather than return anything partially masked."""
    active = detector if detector is not None else get_detector(settings)
    clock = _Clock()  # started after the (cached) detector, so a cold start's model load is not in "total"
    with clock("decode"):
        decoded = decode(data, max_pixels=settings.max_pixels, max_bytes=settings.max_bytes)
    faces: list[Face] = []
    masked: list[npt.NDArray[np.uint8]] = []
    for index, rgb in enumerate(decoded.frames):
        with clock("detect"):
            dets = detect_faces(active, rgb, settings)
        with clock("mask"):
            masked.append(
                apply_masks(
                    rgb,
                    dets,
                    method=settings.method,
                    shape=settings.shape,
                    fill=settings.fill,
                    mask_scale=settings.mask_scale,
                )
            )
        faces.extend(faces_from_detections(dets, frame=index))
    if len(masked) != len(decoded.frames):  # fail closed: never encode fewer frames than were decoded
        raise ModelError("not every frame was processed")
    with clock("encode"):
        image = encode(decoded, masked, quality=settings.jpeg_quality, png_compress_level=settings.png_compress_level)
    frozen_faces = tuple(faces)
    reasons = review_reasons(frozen_faces, settings.effective_threshold)
    return AnonymiseResult(
        image=image,
        content_type=decoded.content_type,
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        faces=frozen_faces,
        method=settings.method,
        shape=settings.shape,
        mask_scale=settings.mask_scale,
        threshold=settings.effective_threshold,
        model_sha256=detector_sha256(active),
        verifier_sha256=verifier_sha256(active, settings.detection),
        timings_ms=clock.report(),
        review=bool(reasons),
        review_reasons=reasons,
        frames=len(decoded.frames),
    )


class _Clock:
    """Accumulates wall time per stage in ms."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.stages: dict[str, float] = {"decode": 0.0, "detect": 0.0, "mask": 0.0, "encode": 0.0}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.stages[stage] += (time.perf_counter() - began) * 1000

    def report(self) -> dict[str, float]:
        total = (time.perf_counter() - self.start) * 1000
        return {**{k: round(v, 1) for k, v in self.stages.items()}, "total": round(total, 1)}

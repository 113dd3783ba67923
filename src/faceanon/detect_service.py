"""Faces only: decode (bounded) and detect, no mask and no encode (the API's ``POST /detect``).

The same decode limits, detection strategy and face rows as :func:`faceanon.service.anonymise`, so a face
reported here is exactly one that anonymise would mask; the work stops before masking and encoding, which
for a photo are most of anonymise's time after detection.
"""

import time
from dataclasses import dataclass
from typing import Any

from .images import decode
from .service import Detector, Face, detect_faces, detector_sha256, faces_from_detections, get_detector
from .settings import Settings


@dataclass(frozen=True)
class DetectResult:
    """The faces of one image and how they were found (every frame; faces in upright pixels)."""

    format: str
    width: int
    height: int
    frames: int
    faces: tuple[Face, ...]
    threshold: float
    detection: str
    model_sha256: str
    timings_ms: dict[str, float]

    def to_report(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "face_count": len(self.faces),
            "faces": [face.to_report() for face in self.faces],
            "threshold": self.threshold,
            "detection": self.detection,
            "model_sha256": self.model_sha256,
            "timings_ms": dict(self.timings_ms),
        }


def detect(data: bytes, settings: Settings, detector: Detector | None = None) -> DetectResult:
    """The faces in every frame of an image; raises the same errors as anonymise's decode and detect."""
    active = detector if detector is not None else get_detector(settings)
    started = time.perf_counter()
    decoded = decode(data, max_pixels=settings.max_pixels, max_bytes=settings.max_bytes)
    decoded_at = time.perf_counter()
    faces: list[Face] = []
    for index, rgb in enumerate(decoded.frames):
        faces.extend(faces_from_detections(detect_faces(active, rgb, settings), frame=index))
    done = time.perf_counter()
    return DetectResult(
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        frames=len(decoded.frames),
        faces=tuple(faces),
        threshold=settings.effective_threshold,
        detection=settings.detection,
        model_sha256=detector_sha256(active),
        timings_ms={
            "decode": round((decoded_at - started) * 1000, 1),
            "detect": round((done - decoded_at) * 1000, 1),
            "total": round((done - started) * 1000, 1),
        },
    )

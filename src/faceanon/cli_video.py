"""The CLI's work for one video file (``faceanon anonymise clip.mp4``): faceanon.video, and a compact record."""

from pathlib import Path
from typing import Any

from .service import Detector
from .settings import Settings
from .video import FAST_EVERY, anonymise_video


def frames_between_detections(every: int | None, settings: Settings) -> int:
    """--every N when given; else every frame, or every FAST_EVERY-th with --fast (fast detection)."""
    if every is not None:
        return every
    return FAST_EVERY if settings.detection == "fast" else 1


def video_record(
    source: str, target: str, settings: Settings, detector: Detector, every: int, keep_creation_time: bool = False
) -> dict[str, Any]:
    """Anonymise one video into target (atomically; raises FaceAnonError on refusal) -> the report's record."""
    result = anonymise_video(
        Path(source), Path(target), settings, detector=detector, every=every, keep_creation_time=keep_creation_time
    )
    report = result.to_report()
    return {
        "format": result.container,
        "video_codec": result.video_codec,
        "width": result.width,
        "height": result.height,
        "frames": result.frames,
        "fps": report["fps"],
        "duration_s": report["duration_s"],
        "audio_streams": result.audio_streams,
        "every": result.every,
        "face_count": result.tracks,  # distinct faces, as tracked
        "face_frames": sum(result.faces_per_frame),
        "faces_per_frame": report["faces_per_frame"],
        "review": False,
        "review_reasons": [],
        "ms": result.timings_ms["total"],
        "timings_ms": result.timings_ms,
        "model_sha256": result.model_sha256,
    }

"""The video function's own settings (work bucket, segment length, limits), read once from the environment.

Env var names match VideoFunction in template.yaml. Mask and detector settings are faceanon's ``Settings``
(FACEANON_*), buckets and prefixes the shared ``LambdaConfig``.
"""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from faceanon.errors import InvalidRequestError


@dataclass(frozen=True)
class VideoConfig:
    work_bucket: str = ""  # raw and anonymised segments, reports; expires after a day (never the output side)
    work_prefix: str = "jobs/"
    segment_seconds: float = 20.0  # cut at the first keyframe this long after the segment's start
    max_seconds: float = 4 * 3600.0  # longer videos are rejected (the whole video, before any work)
    max_width: int = 3840
    max_height: int = 2160
    # /tmp (EphemeralStorage, 10 GB) holds the source and its raw segments at once: at most ~4.5 GiB of video.
    max_bytes: int = 4_800_000_000
    detect_every: int = 1  # 1 = detect on every frame (the default); N = --fast's every Nth frame

    def __post_init__(self) -> None:
        if not self.work_prefix or not self.work_prefix.endswith("/"):
            raise InvalidRequestError("VIDEO_WORK_PREFIX must end with /")
        for name, value in (("VIDEO_SEGMENT_SECONDS", self.segment_seconds), ("VIDEO_MAX_SECONDS", self.max_seconds)):
            if not math.isfinite(value) or value <= 0:
                raise InvalidRequestError(f"{name} must be a positive number")
        for name, number in (
            ("VIDEO_MAX_WIDTH", self.max_width),
            ("VIDEO_MAX_HEIGHT", self.max_height),
            ("VIDEO_MAX_BYTES", self.max_bytes),
            ("VIDEO_DETECT_EVERY", self.detect_every),
        ):
            if number < 1:
                raise InvalidRequestError(f"{name} must be at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "VideoConfig":
        env = os.environ if environ is None else environ

        def number(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            try:
                return float(raw) if raw else default
            except ValueError as exc:
                raise InvalidRequestError(f"{name} must be a number") from exc

        return cls(
            work_bucket=env.get("VIDEO_WORK_BUCKET", ""),
            work_prefix=env.get("VIDEO_WORK_PREFIX", cls.work_prefix),
            segment_seconds=number("VIDEO_SEGMENT_SECONDS", cls.segment_seconds),
            max_seconds=number("VIDEO_MAX_SECONDS", cls.max_seconds),
            max_width=int(number("VIDEO_MAX_WIDTH", cls.max_width)),
            max_height=int(number("VIDEO_MAX_HEIGHT", cls.max_height)),
            max_bytes=int(number("VIDEO_MAX_BYTES", cls.max_bytes)),
            detect_every=int(number("VIDEO_DETECT_EVERY", cls.detect_every)),
        )

"""The video state machine's three Lambda steps (statemachine/video.asl.json): plan -> segment (Map) -> join.

* ``plan``: the upload (named by the queue function's StartExecution input) is read to /tmp, probed without
  decoding, checked against the limits, cut at keyframes into segments of about VIDEO_SEGMENT_SECONDS, and
  each raw segment is copied to the work bucket. A short video is one segment.
* ``segment`` (one per segment, in parallel): one raw segment -> ``anonymise_video`` -> the anonymised
  segment and its report (frames, boxes per frame, tracks, timings) in the work bucket.
* ``join`` (``video_join``): every segment's report must be there and say anonymised, then the anonymised segments are
  concatenated (remux), the video is written to the output bucket and the audit record last (the commit
  marker, as for photos), and the job's work objects are deleted.

Fail closed: nothing reaches the output bucket before ``join`` has every anonymised segment. Raw and
anonymised segments live only in the work bucket (never the input bucket: its notification would queue
them; never the output side). A bad video (unreadable, unknown codec, over the limits; any segment
rejected by ``anonymise_video``) gets a rejection record instead of an output; other failures raise, so
Step Functions retries the step, then the execution fails with nothing written.
"""

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from faceanon.errors import ImageTooLargeError, InvalidRequestError, PayloadTooLargeError, UnsupportedVideoError
from faceanon.video_io import VideoLimits, open_input
from faceanon.video_io import probe as check_video
from faceanon.video_segments import probe, segments_of, split_segments

from .audit import ANONYMISED, REJECTABLE, REJECTED, SourceObject, rejection_record
from .config import LambdaConfig
from .s3_pipeline import done_record, put_json
from .video_config import VideoConfig

# The input's fault, parked with a rejection record: the photo path's, plus UnsupportedVideoError (unknown
# codecs, truncated files, VFR, rotation, HDR, ... from faceanon.video and faceanon.video_segments).
VIDEO_REJECTABLE: tuple[type[Exception], ...] = (*REJECTABLE, UnsupportedVideoError)
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
}
# (raw segment, anonymised segment) -> the segment's report: frames, faces_per_frame, tracks, timings_ms, ...
AnonymiseSegment = Callable[[Path, Path], dict[str, Any]]


def job_id(source: SourceObject) -> str:
    """One job per source version: the same upload twice is the same job (and the same execution name)."""
    identity = f"{source.bucket}\n{source.key}\n{source.etag}\n{source.version_id or ''}"
    return hashlib.sha256(identity.encode()).hexdigest()[:40]


def source_of(event: dict[str, Any]) -> SourceObject:
    raw = event.get("source")
    if not isinstance(raw, dict) or not raw.get("bucket") or not raw.get("key"):
        raise InvalidRequestError("the step needs source.bucket and source.key")
    return SourceObject(str(raw["bucket"]), str(raw["key"]), str(raw.get("etag") or ""), raw.get("version_id"), None)


def _rejection_reason(exc: Exception) -> dict[str, str]:
    code = "unsupported_media_type"
    if isinstance(exc, PayloadTooLargeError):
        code = "payload_too_large"
    elif isinstance(exc, ImageTooLargeError):
        code = "image_too_large"
    return {"error": code, "message": str(exc)}


def download(s3: Any, bucket: str, key: str, path: Path, *, version: str | None = None, limit: int = 0) -> Any:
    extra = {"VersionId": version} if version else {}
    response = s3.get_object(Bucket=bucket, Key=key, **extra)
    if limit and int(response.get("ContentLength", 0)) > limit:
        response["Body"].close()
        raise PayloadTooLargeError(f"the video is {response['ContentLength']} bytes; the limit is {limit}")
    with path.open("wb") as file:
        shutil.copyfileobj(response["Body"], file, 8 * 1024 * 1024)  # streamed: never the whole video in RAM
    return response


def work_key(video: VideoConfig, job: str, kind: str, name: str) -> str:
    return f"{video.work_prefix}{job}/{kind}/{name}"


def _check(local: Path, video: VideoConfig) -> None:
    """faceanon.video's own checks of the whole video (codec, pixel format, frame rate, size, duration), so
    a bad video is rejected before any segment runs; anonymise_video repeats them per segment."""
    limits = VideoLimits(
        max_width=video.max_width,
        max_height=video.max_height,
        max_seconds=video.max_seconds,
        max_frames=int(video.max_seconds * 120),  # up to 120 fps for the longest video allowed
    )
    container = open_input(local)
    try:
        check_video(container, local.suffix.lower(), limits)
    finally:
        container.close()


def plan_step(
    event: dict[str, Any], *, s3: Any, config: LambdaConfig, video: VideoConfig, request_id: str = ""
) -> dict[str, Any]:
    started = time.time()
    request_id = str(event.get("request_id") or request_id)  # the execution's name: one per source version
    source = source_of(event)
    if source.bucket == config.output_bucket:
        raise InvalidRequestError("refusing to process an object of the output bucket (trigger loop)")
    if done_record(s3, config, source) is not None:
        return {"status": "duplicate", "source": asdict(source)}
    job = job_id(source)
    suffix = Path(source.key).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="faceanon-plan-") as folder:
        local = Path(folder) / f"source{suffix}"
        try:
            response = download(s3, source.bucket, source.key, local, version=source.version_id, limit=video.max_bytes)
            _check(local, video)
            facts = probe(local)
            plan = segments_of(facts.keyframes_s, facts.duration_s, video.segment_seconds)
            parts = split_segments(local, plan, Path(folder) / "segments")
        except VIDEO_REJECTABLE as exc:
            reason = _rejection_reason(exc)
            put_json(
                s3, config.output_bucket, config.audit_key(source.key), rejection_record(source, reason, request_id)
            )
            return {"status": REJECTED, "source": asdict(source), "reason": reason}
        etag = str(response.get("ETag", "")).strip('"') or source.etag
        version = source.version_id or (response.get("VersionId") if response.get("VersionId") != "null" else None)
        segments = []
        for segment, part in zip(plan, parts, strict=True):
            key = work_key(video, job, "source", part.name)
            s3.upload_file(str(part), video.work_bucket, key)
            segments.append({"index": segment.index, "start_s": segment.start_s, "end_s": segment.end_s, "key": key})
    return {
        "status": "planned",
        "job": job,
        "request_id": request_id,
        "started": started,
        "source": {
            **asdict(source),
            "etag": etag,
            "version_id": version,
            "size": int(response.get("ContentLength", 0)),
        },
        "video": asdict(facts) | {"keyframes_s": len(facts.keyframes_s)},
        "segments": segments,
        "timings_ms": {"plan": round((time.time() - started) * 1000, 1)},
    }


def segment_step(
    event: dict[str, Any], *, s3: Any, video: VideoConfig, anonymise_segment: AnonymiseSegment
) -> dict[str, Any]:
    job, segment = str(event["job"]), dict(event["segment"])
    index, key = int(segment["index"]), str(segment["key"])
    name = Path(key).name
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="faceanon-segment-") as folder:
        raw, clean = Path(folder) / name, Path(folder) / f"anonymised-{name}"
        download(s3, video.work_bucket, key, raw)
        try:
            report = anonymise_segment(raw, clean)
        except VIDEO_REJECTABLE as exc:
            report = {"status": REJECTED, "reason": _rejection_reason(exc)}
        else:
            s3.upload_file(str(clean), video.work_bucket, work_key(video, job, "anonymised", name))
            report = {"status": ANONYMISED, **report}
    report |= {"index": index, "start_s": segment["start_s"], "end_s": segment["end_s"]}
    report["segment_ms"] = round((time.perf_counter() - started) * 1000, 1)
    put_json(s3, video.work_bucket, work_key(video, job, "reports", f"{name}.json"), report)
    return {"index": index, "status": report["status"]}  # small: the Map's result stays far below 256 KB


def segment_reports(s3: Any, video: VideoConfig, plan: dict[str, Any]) -> list[dict[str, Any]]:
    reports = []
    for segment in plan["segments"]:
        key = work_key(video, plan["job"], "reports", f"{Path(segment['key']).name}.json")
        try:
            body = s3.get_object(Bucket=video.work_bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey as exc:
            raise InvalidRequestError(f"segment {segment['index']} has no report: not every segment ran") from exc
        reports.append(json.loads(body))
    return reports


def delete_work(s3: Any, video: VideoConfig, job: str) -> None:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=video.work_bucket, Prefix=f"{video.work_prefix}{job}/"):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=video.work_bucket, Delete={"Objects": keys, "Quiet": True})

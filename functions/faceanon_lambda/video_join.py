"""The video state machine's last step: every anonymised segment -> one output video + its audit record.

The output is written only when every planned segment has a report saying anonymised (fail closed); the
audit record comes after the output (the commit marker; without it the output is removed again), then the
job's work objects are deleted (the work bucket's lifecycle rule is the backstop).
"""

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from faceanon.settings import Settings
from faceanon.video_segments import join_segments

from .audit import ANONYMISED, AUDIT_SCHEMA, REJECTED, rejection_record
from .config import LambdaConfig
from .s3_pipeline import commit, done_record, put_json
from .video_config import VideoConfig
from .video_pipeline import CONTENT_TYPES, delete_work, download, segment_reports, source_of, work_key


def _audit(
    plan: dict[str, Any], reports: list[dict[str, Any]], output: dict[str, str], settings: Settings
) -> dict[str, Any]:
    faces_per_frame = [int(n) for report in reports for n in report.get("faces_per_frame", ())]
    segment_ms = [float(report.get("segment_ms", 0.0)) for report in reports]
    return {
        "schema": AUDIT_SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "request_id": plan.get("request_id", ""),
        "status": ANONYMISED,
        "source": plan["source"],
        "output": output,
        "video": {**plan["video"], "segments": len(reports)},
        "frames": sum(int(report.get("frames", 0)) for report in reports),
        "faces_per_frame": faces_per_frame,
        "face_frames": sum(faces_per_frame),  # boxes masked, summed over frames
        "face_count": max(faces_per_frame, default=0),  # most faces masked in one frame
        # Tracks are counted per segment: a face crossing a cut starts a new track in the next segment.
        "tracks": sum(int(report.get("tracks", 0)) for report in reports),
        "segments": [
            {
                key: report.get(key)
                for key in ("index", "start_s", "end_s", "frames", "tracks", "segment_ms", "timings_ms")
            }
            for report in reports
        ],
        "method": settings.method,
        "shape": settings.shape,
        "mask_scale": settings.mask_scale,
        "detection": settings.detection,
        "model_sha256": next((r["model_sha256"] for r in reports if r.get("model_sha256")), ""),
        "timings_ms": {
            "plan": plan.get("timings_ms", {}).get("plan", 0.0),
            "segments_sum": round(sum(segment_ms), 1),
            "segment_max": max(segment_ms, default=0.0),
        },
    }


def join_step(
    event: dict[str, Any], *, s3: Any, config: LambdaConfig, video: VideoConfig, settings: Settings
) -> dict[str, Any]:
    started = time.perf_counter()
    plan = event
    source, job = source_of(plan), str(plan["job"])
    audit_key = config.audit_key(source.key)
    if done_record(s3, config, source) is not None:  # a retried join whose first run committed
        delete_work(s3, video, job)
        return {"status": "duplicate", "output_key": config.output_key(source.key)}
    reports = segment_reports(s3, video, plan)
    rejected = [report for report in reports if report.get("status") != ANONYMISED]
    if rejected:
        reason = dict(rejected[0].get("reason") or {"error": "unsupported_media_type", "message": "rejected"})
        reason["message"] = f"segment {rejected[0].get('index')}: {reason.get('message', '')}"
        put_json(s3, config.output_bucket, audit_key, rejection_record(source, reason, plan.get("request_id", "")))
        delete_work(s3, video, job)
        return {"status": REJECTED, "reason": reason}
    suffix = Path(source.key).suffix.lower()
    output_key = config.output_key(source.key)
    with tempfile.TemporaryDirectory(prefix="faceanon-join-") as folder:
        parts = []
        for segment in plan["segments"]:
            name = Path(segment["key"]).name
            part = Path(folder) / name
            download(s3, video.work_bucket, work_key(video, job, "anonymised", name), part)
            parts.append(part)
        joined = Path(folder) / f"joined{suffix}"
        join_segments(parts, [float(s["start_s"]) for s in plan["segments"]], joined)
        record = _audit(plan, reports, {"bucket": config.output_bucket, "key": output_key}, settings)
        tags = {"faces": str(record["face_count"]), "frames": str(record["frames"]), "status": ANONYMISED}
        tags |= {"method": settings.method, "source-etag": source.etag or "unknown"}
        with joined.open("rb") as body:
            written = s3.put_object(
                Bucket=config.output_bucket,
                Key=output_key,
                Body=body,
                ContentType=CONTENT_TYPES.get(suffix, "application/octet-stream"),
                Tagging=urlencode(tags),
            )
    record["output"]["content_type"] = CONTENT_TYPES.get(suffix, "application/octet-stream")
    record["timings_ms"]["join"] = round((time.perf_counter() - started) * 1000, 1)
    if plan.get("started"):
        record["timings_ms"]["wall"] = round((time.time() - float(plan["started"])) * 1000, 1)
    commit(s3, config.output_bucket, audit_key, record, output_key, written)
    delete_work(s3, video, job)
    return {"status": ANONYMISED, "output_key": output_key, "frames": record["frames"], "faces": record["face_frames"]}

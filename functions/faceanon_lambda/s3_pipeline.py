"""The S3 path: SQS message -> S3 object references -> anonymised object + tags + audit record.

Fail closed: the output object is written only after anonymisation succeeded, the audit record after the
output (it is the commit marker), and every error propagates so the SQS record is reported failed and
retried, then dead-lettered. Idempotent: an audit record for the same source etag/version means done.
"""

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus, urlencode

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from faceanon.errors import InvalidRequestError, PayloadTooLargeError
from faceanon.service import Anonymise, AnonymiseResult
from faceanon.settings import Settings

from .config import LambdaConfig

AUDIT_SCHEMA = "faceanon.audit/1"
MAX_TAGS = 10  # S3's limit per object


@dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str  # already unquote_plus'ed
    etag: str
    version_id: str | None
    size: int | None


@dataclass(frozen=True)
class Outcome:
    source: SourceObject
    status: str  # "anonymised" | "duplicate"
    output_key: str
    faces: int = 0
    review: bool = False
    duration_ms: float = 0.0


def parse_message(body: Any) -> list[SourceObject]:
    """Objects an S3 notification (the SQS message body, already JSON-decoded) asks to anonymise.

    ``s3:TestEvent`` (sent when the notification is configured) and non-create events give no objects.
    """
    if not isinstance(body, dict):
        raise InvalidRequestError("SQS message body is not an S3 notification")
    if body.get("Event") == "s3:TestEvent":
        return []
    records = body.get("Records")
    if not isinstance(records, list):
        raise InvalidRequestError("SQS message body has no S3 Records")
    sources = []
    for record in records:
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        obj = s3["object"]
        sources.append(
            SourceObject(
                bucket=s3["bucket"]["name"],
                key=unquote_plus(obj["key"]),
                etag=str(obj.get("eTag") or "").strip('"'),
                version_id=obj.get("versionId") or None,
                size=obj.get("size"),
            )
        )
    return sources


def object_tags(result: AnonymiseResult, source: SourceObject) -> dict[str, str]:
    tags = {
        "faces": str(result.face_count),
        "method": result.method,
        "shape": result.shape,
        "model": result.model_sha256[:16],
        "status": "anonymised",
        "review": "true" if result.review else "false",
        "source-etag": source.etag or "unknown",
    }
    if len(tags) > MAX_TAGS:  # pragma: no cover - a guard for whoever adds the next tag
        raise InvalidRequestError(f"at most {MAX_TAGS} S3 tags")
    return tags


def audit_record(
    result: AnonymiseResult, source: SourceObject, output_bucket: str, output_key: str, request_id: str
) -> dict[str, Any]:
    return {
        "schema": AUDIT_SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "request_id": request_id,
        "source": {
            "bucket": source.bucket,
            "key": source.key,
            "version_id": source.version_id,
            "etag": source.etag,
            "size": source.size,
        },
        "output": {"bucket": output_bucket, "key": output_key, "content_type": result.content_type},
        "image": {"width": result.width, "height": result.height, "frames": result.frames},
        "faces": result.faces_report(),
        "face_count": result.face_count,
        "method": result.method,
        "shape": result.shape,
        "mask_scale": result.mask_scale,
        "threshold": result.threshold,
        "model_sha256": result.model_sha256,
        "review": result.review,
        "review_reasons": list(result.review_reasons),
        "timings_ms": dict(result.timings_ms),
    }


def _already_done(s3: Any, config: LambdaConfig, source: SourceObject) -> bool:
    """True when the audit record (written last) says this exact source version was anonymised."""
    try:
        response = s3.get_object(Bucket=config.output_bucket, Key=config.audit_key(source.key))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return False
        raise
    previous = json.loads(response["Body"].read())["source"]
    same_version = source.version_id is None or previous.get("version_id") == source.version_id
    return bool(source.etag) and previous.get("etag") == source.etag and same_version


def _read_source(s3: Any, source: SourceObject, settings: Settings) -> tuple[bytes, str]:
    extra = {"VersionId": source.version_id} if source.version_id else {}
    response = s3.get_object(Bucket=source.bucket, Key=source.key, **extra)
    length = int(response.get("ContentLength", 0))
    if length > settings.max_bytes:
        response["Body"].close()
        raise PayloadTooLargeError(f"object is {length} bytes; the limit is {settings.max_bytes}")
    return response["Body"].read(), str(response.get("ETag", "")).strip('"')


def anonymise_object(
    source: SourceObject,
    *,
    s3: Any,
    config: LambdaConfig,
    settings: Settings,
    anonymise: Anonymise,
    request_id: str = "",
) -> Outcome:
    """Anonymise one uploaded object into the output bucket; raises on any failure (nothing written)."""
    if not config.output_bucket:
        raise InvalidRequestError("OUTPUT_BUCKET is not configured")
    if source.bucket == config.output_bucket:
        raise InvalidRequestError("refusing to process an object of the output bucket (trigger loop)")
    output_key = config.output_key(source.key)
    if _already_done(s3, config, source):
        return Outcome(source, "duplicate", output_key)
    data, etag = _read_source(s3, source, settings)
    if source.etag and etag and etag != source.etag:
        # Overwritten since the notification: this message is stale, the newer upload has its own message.
        return Outcome(source, "duplicate", output_key)
    source = SourceObject(source.bucket, source.key, etag or source.etag, source.version_id, len(data))
    started = time.perf_counter()
    result = anonymise(data, settings)
    del data
    written = s3.put_object(
        Bucket=config.output_bucket,
        Key=output_key,
        Body=result.image,
        ContentType=result.content_type,
        Tagging=urlencode(object_tags(result, source)),
    )
    record = audit_record(result, source, config.output_bucket, output_key, request_id)
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    record["timings_ms"]["anonymise_and_store"] = duration_ms
    try:
        s3.put_object(
            Bucket=config.output_bucket,
            Key=config.audit_key(source.key),
            Body=json.dumps(record, indent=1).encode(),
            ContentType="application/json",
        )
    except Exception:
        # No audit record, no output: remove exactly the version just written, then fail the record.
        version = {"VersionId": written["VersionId"]} if written.get("VersionId") else {}
        s3.delete_object(Bucket=config.output_bucket, Key=output_key, **version)
        raise
    return Outcome(source, "anonymised", output_key, result.face_count, result.review, duration_ms)

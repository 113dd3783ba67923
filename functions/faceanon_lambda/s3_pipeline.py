"""The S3 path: one uploaded object -> anonymised object + tags + audit record (``audit.py``).

Fail closed: the output object is written only after anonymisation succeeded, the audit record after the
output (it is the commit marker). Two kinds of failure:

* the input's fault (not an image, corrupt, too many pixels, over MaxBytes: ``audit.REJECTABLE``): with
  ``park_rejections`` a rejection record is written instead of an output and the call returns normally, so
  the message is not retried (it never could succeed);
* anything else (S3 errors, throttling, ModelError, bugs) propagates: the SQS record is reported failed,
  retried, then dead-lettered.

Idempotent: an audit record for the same source etag/version (anonymised, held or rejected) means done.
With ``review_hold``, flagged results go under the review prefix instead of the published one.
"""

import json
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from faceanon.errors import InvalidRequestError, PayloadTooLargeError
from faceanon.service import Anonymise
from faceanon.settings import Settings

from .audit import (
    ANONYMISED,
    HELD,
    REJECTABLE,
    REJECTED,
    SourceObject,
    audit_record,
    object_tags,
    rejection_reason,
    rejection_record,
)
from .config import LambdaConfig

__all__ = ["Outcome", "SourceObject", "anonymise_object"]


@dataclass(frozen=True)
class Outcome:
    source: SourceObject
    status: str  # "anonymised" | "held_for_review" | "rejected" | "duplicate"
    output_key: str  # where the image is ("" when rejected)
    audit_key: str = ""
    faces: int = 0
    review: bool = False
    duration_ms: float = 0.0
    reason: dict[str, str] | None = None  # rejected: {"error", "message"}
    warning: str = ""  # something the operator should see (logged at WARNING)


def _previous_record(s3: Any, config: LambdaConfig, source: SourceObject) -> dict[str, Any] | None:
    try:
        response = s3.get_object(Bucket=config.output_bucket, Key=config.audit_key(source.key))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise
    record: dict[str, Any] = json.loads(response["Body"].read())
    return record


def done_record(s3: Any, config: LambdaConfig, source: SourceObject) -> dict[str, Any] | None:
    """The audit record (written last) when it names this exact source version: processed, whatever the status."""
    record = _previous_record(s3, config, source)
    if record is None:
        return None
    previous = record.get("source", {})
    same_version = source.version_id is None or previous.get("version_id") == source.version_id
    return record if bool(source.etag) and previous.get("etag") == source.etag and same_version else None


def _duplicate(source: SourceObject, audit_key: str, record: dict[str, Any], warning: str = "") -> Outcome:
    output_key = str((record.get("output") or {}).get("key") or "")  # held, published, or none (rejected)
    return Outcome(source, "duplicate", output_key, audit_key, warning=warning)


def _etag(response: dict[str, Any]) -> str:
    return str(response.get("ETag", "")).strip('"')


def _get_source(s3: Any, source: SourceObject) -> dict[str, Any]:
    extra = {"VersionId": source.version_id} if source.version_id else {}
    response: dict[str, Any] = s3.get_object(Bucket=source.bucket, Key=source.key, **extra)
    return response


def _read_body(response: dict[str, Any], settings: Settings) -> bytes:
    length = int(response.get("ContentLength", 0))
    if length > settings.max_bytes:
        response["Body"].close()
        raise PayloadTooLargeError(f"object is {length} bytes; the limit is {settings.max_bytes}")
    data: bytes = response["Body"].read()
    return data


def put_json(s3: Any, bucket: str, key: str, record: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(record, indent=1).encode(), ContentType="application/json")


def commit(s3: Any, bucket: str, audit_key: str, record: dict[str, Any], output_key: str, written: Any) -> None:
    """Write the audit record, the commit marker of an output already written (``written``: its put_object
    response). No audit record, no output: if the record cannot be written, remove exactly that output version
    and raise, so the caller fails and is retried."""
    try:
        put_json(s3, bucket, audit_key, record)
    except Exception:
        version = {"VersionId": written["VersionId"]} if written.get("VersionId") else {}
        s3.delete_object(Bucket=bucket, Key=output_key, **version)
        raise


def anonymise_object(
    source: SourceObject,
    *,
    s3: Any,
    config: LambdaConfig,
    settings: Settings,
    anonymise: Anonymise,
    request_id: str = "",
    park_rejections: bool = False,
) -> Outcome:
    """Anonymise one uploaded object into the output bucket; raises on any failure not parked (nothing written)."""
    if not config.output_bucket:
        raise InvalidRequestError("OUTPUT_BUCKET is not configured")
    if source.bucket == config.output_bucket:
        raise InvalidRequestError("refusing to process an object of the output bucket (trigger loop)")
    audit_key = config.audit_key(source.key)
    if (done := done_record(s3, config, source)) is not None:
        return _duplicate(source, audit_key, done)
    response = _get_source(s3, source)
    etag, warning = _etag(response), ""
    if source.etag and etag and etag != source.etag:
        # The notification names another version than the object has now: overwritten since (the newer
        # upload has its own message) or a generated event (sam local generate-event). Process what is
        # there unless that version is already done; never drop it silently.
        warning = f"notification eTag {source.etag} is not the object's eTag {etag}"
        source = replace(source, etag=etag)
        if (done := done_record(s3, config, source)) is not None:
            response["Body"].close()
            return _duplicate(source, audit_key, done, warning)
        warning += "; processed the object as it is now"
    # The version read, for the record (S3 notifications omit versionId when the bucket is unversioned).
    read_version = response.get("VersionId")
    version = source.version_id or (read_version if read_version and read_version != "null" else None)
    source = replace(source, etag=etag or source.etag, version_id=version)
    started = time.perf_counter()
    try:
        data = _read_body(response, settings)
        source = replace(source, size=len(data))
        result = anonymise(data, settings)
    except REJECTABLE as exc:
        if not park_rejections:
            raise
        reason = rejection_reason(exc)
        put_json(s3, config.output_bucket, audit_key, rejection_record(source, reason, request_id))
        return Outcome(source, REJECTED, "", audit_key, reason=reason, warning=warning)
    del data
    held = config.review_hold and result.review
    status = HELD if held else ANONYMISED
    output_key = config.review_key(source.key) if held else config.output_key(source.key)
    written = s3.put_object(
        Bucket=config.output_bucket,
        Key=output_key,
        Body=result.image,
        ContentType=result.content_type,
        Tagging=urlencode(object_tags(result, source, status)),
    )
    record = audit_record(result, source, config.output_bucket, output_key, request_id, status)
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    record["timings_ms"]["anonymise_and_store"] = duration_ms
    commit(s3, config.output_bucket, audit_key, record, output_key, written)
    return Outcome(
        source, status, output_key, audit_key, result.face_count, result.review, duration_ms, warning=warning
    )

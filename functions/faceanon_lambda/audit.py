"""The S3 path's records: object tags and the JSON audit record at ``{AUDIT_PREFIX}{source_key}.json``.

The audit record is the commit marker and what other parts read (the API job flow, the review command):
``"status"`` is one of :data:`STATUSES`; ``"output": {"bucket", "key", ...}`` for ``anonymised`` and
``held_for_review``; ``"reason": {"error", "message"}`` for ``rejected``; ``"source"`` always names the
bucket, key, version and etag it is about (idempotency compares those).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faceanon.errors import ImageTooLargeError, InvalidRequestError, PayloadTooLargeError, UnsupportedImageError
from faceanon.service import AnonymiseResult

AUDIT_SCHEMA = "faceanon.audit/1"
MAX_TAGS = 10  # S3's limit per object
ANONYMISED, HELD, REJECTED = "anonymised", "held_for_review", "rejected"
STATUSES = (ANONYMISED, HELD, REJECTED)

# The input's fault: retrying cannot help, so these are parked with a rejection record (the codes are the
# API's error codes for the same errors).
REJECTION_CODES: tuple[tuple[type[Exception], str], ...] = (
    (PayloadTooLargeError, "payload_too_large"),
    (UnsupportedImageError, "unsupported_media_type"),
    (ImageTooLargeError, "image_too_large"),
)
REJECTABLE = tuple(kind for kind, _ in REJECTION_CODES)


@dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str  # already unquote_plus'ed
    etag: str
    version_id: str | None
    size: int | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _source(source: SourceObject) -> dict[str, Any]:
    return {
        "bucket": source.bucket,
        "key": source.key,
        "version_id": source.version_id,
        "etag": source.etag,
        "size": source.size,
    }


def object_tags(result: AnonymiseResult, source: SourceObject, status: str) -> dict[str, str]:
    tags = {
        "faces": str(result.face_count),
        "method": result.method,
        "shape": result.shape,
        "model": result.model_sha256[:16],
        "status": status,
        "review": "true" if result.review else "false",
        "source-etag": source.etag or "unknown",
    }
    if len(tags) > MAX_TAGS:  # pragma: no cover - a guard for whoever adds the next tag
        raise InvalidRequestError(f"at most {MAX_TAGS} S3 tags")
    return tags


def audit_record(
    result: AnonymiseResult,
    source: SourceObject,
    output_bucket: str,
    output_key: str,
    request_id: str,
    status: str = ANONYMISED,
) -> dict[str, Any]:
    return {
        "schema": AUDIT_SCHEMA,
        "created": _now(),
        "request_id": request_id,
        "status": status,
        "source": _source(source),
        "output": {"bucket": output_bucket, "key": output_key, "content_type": result.content_type},
        "image": {"width": result.width, "height": result.height, "frames": result.frames},
        "faces": result.faces_report(),
        "face_count": result.face_count,
        "method": result.method,
        "shape": result.shape,
        "mask_scale": result.mask_scale,
        "threshold": result.threshold,
        "model_sha256": result.model_sha256,
        "verifier_sha256": result.verifier_sha256,
        "review": result.review,
        "review_reasons": list(result.review_reasons),
        "timings_ms": dict(result.timings_ms),
    }


def rejection_reason(exc: Exception) -> dict[str, str]:
    """``{"error": code, "message": text}`` of an input-fault error (the message is safe to show)."""
    code = next(code for kind, code in REJECTION_CODES if isinstance(exc, kind))
    return {"error": code, "message": str(exc)}


def rejection_record(source: SourceObject, reason: dict[str, str], request_id: str) -> dict[str, Any]:
    return {
        "schema": AUDIT_SCHEMA,
        "created": _now(),
        "request_id": request_id,
        "status": REJECTED,
        "source": _source(source),
        "reason": reason,
    }

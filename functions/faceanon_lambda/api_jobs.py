"""The job flow for photos too big for a Lambda payload: ``POST /jobs`` and ``GET /jobs/{id}``.

``POST /jobs`` hands out a presigned S3 POST into the input bucket at ``JOBS_PREFIX + job_id`` (Content-Type
and content-length-range conditions, short expiry). The upload is an ordinary upload: S3 -> SQS -> the queue
handler anonymises it and writes the audit record at ``LambdaConfig.audit_key(job key)``. ``GET /jobs/{id}``
reads that record: none yet -> ``pending``; ``anonymised`` (or a record without ``status``) -> faces and a
presigned download of the result; ``held_for_review`` -> faces, no download (a person releases it);
``rejected`` -> the reason.
"""

import json
import re
import uuid
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from faceanon.errors import InvalidRequestError
from faceanon.settings import Settings

from .api_config import ApiConfig
from .config import LambdaConfig

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
CONTENT_TYPE = re.compile(r"^image/[a-z0-9.+-]{1,64}$")
JOB_FIELDS = {"content_type"}


class JobsDisabledError(Exception):
    """The deployment has no input bucket for jobs (INPUT_BUCKET unset): the routes answer 404."""


def create_job(payload: dict[str, Any], *, s3: Any, config: ApiConfig, settings: Settings) -> dict[str, Any]:
    """A new job id and the presigned POST that uploads its photo (at most settings.max_bytes)."""
    if not config.input_bucket:
        raise JobsDisabledError
    unknown = set(payload) - JOB_FIELDS
    if unknown:
        raise InvalidRequestError(f"unknown field {sorted(unknown)[0]}; allowed: content_type")
    content_type = payload.get("content_type", "image/jpeg")
    if not isinstance(content_type, str) or not CONTENT_TYPE.match(content_type):
        raise InvalidRequestError("content_type must be an image/* media type, e.g. image/jpeg")
    job_id = uuid.uuid4().hex
    post = s3.generate_presigned_post(
        Bucket=config.input_bucket,
        Key=config.job_key(job_id),
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, settings.max_bytes]],
        ExpiresIn=config.upload_expires,
    )
    return {
        "job_id": job_id,
        "status": "pending",
        "status_path": f"/jobs/{job_id}",
        "upload": {
            "method": "POST",
            "url": post["url"],
            "fields": post["fields"],  # send them as form fields, then the file as the last field, "file"
            "content_type": content_type,
            "max_bytes": settings.max_bytes,
            "expires_in": config.upload_expires,
        },
    }


def job_status(job_id: str, *, s3: Any, config: ApiConfig, lambda_config: LambdaConfig) -> dict[str, Any]:
    """The job's state from its audit record (the queue path writes it last, so it means done)."""
    if not config.input_bucket:
        raise JobsDisabledError
    if not JOB_ID.match(job_id):
        raise InvalidRequestError("job id must be the 32 hex digits POST /jobs returned")
    record = _audit_record(s3, lambda_config, config.job_key(job_id))
    if record is None:
        return {"job_id": job_id, "status": "pending"}
    status = record.get("status", "anonymised")
    answer: dict[str, Any] = {"job_id": job_id, "status": status}
    if status == "rejected":
        reason = record.get("reason") or {}
        answer["reason"] = {"error": str(reason.get("error", "rejected")), "message": str(reason.get("message", ""))}
        return answer
    if status not in ("anonymised", "held_for_review"):
        raise ValueError(f"audit record has an unknown status {status!r}")  # a 500: the contract changed
    answer.update(
        {
            "image": record.get("image"),
            "face_count": record.get("face_count"),
            "faces": record.get("faces"),
            "review": record.get("review"),
            "review_reasons": record.get("review_reasons"),
            "model_sha256": record.get("model_sha256"),
        }
    )
    if status == "anonymised":
        output = record["output"]
        answer["download"] = {
            "url": s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": output["bucket"], "Key": output["key"]},
                ExpiresIn=config.download_expires,
            ),
            "content_type": output.get("content_type"),
            "expires_in": config.download_expires,
        }
    return answer


def _audit_record(s3: Any, lambda_config: LambdaConfig, source_key: str) -> dict[str, Any] | None:
    try:
        response = s3.get_object(Bucket=lambda_config.output_bucket, Key=lambda_config.audit_key(source_key))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise
    record = json.loads(response["Body"].read())
    if not isinstance(record, dict):
        raise ValueError("audit record is not a JSON object")
    return record

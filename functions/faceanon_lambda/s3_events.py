"""Every shape in which AWS tells the upload function about a new object, as ``SourceObject``s.

Lambda events (what ``handler`` receives):

* an SQS batch (``Records[].eventSource == "aws:sqs"``): each message body is one of the bodies below;
* a plain S3 notification (``Records[].eventSource == "aws:s3"``): S3 -> Lambda, ``sam local invoke -e``;
* an SNS notification (``Records[].EventSource == "aws:sns"``): S3 -> SNS -> Lambda;
* an EventBridge event (``source == "aws.s3"``): S3 -> EventBridge -> Lambda.

SQS message bodies (S3 -> SQS, S3 -> SNS -> SQS, S3 -> EventBridge -> SQS):

* an S3 notification ``{"Records": [...]}`` (also what SNS raw message delivery hands on unchanged), or
  the ``s3:TestEvent`` S3 sends when a notification is configured (no objects);
* an SNS envelope ``{"Type": "Notification", "Message": "<the S3 notification as a JSON string>"}``;
* an EventBridge event ``{"detail-type": "Object Created", "source": "aws.s3", "detail": {...}}``.

Object keys arrive URL-encoded (``+`` for a space) in S3 notifications; EventBridge's S3 events are decoded
the same way (as Powertools' ``S3EventBridgeNotificationObject.key`` does). Events about something other
than a created object (deletes, restores, ``Object Deleted``) give no objects; anything else is refused
with an ``InvalidRequestError`` that says what was expected.
"""

import json
from typing import Any
from urllib.parse import unquote_plus

from faceanon.errors import InvalidRequestError

from .audit import SourceObject

EXPECTED_EVENTS = "an SQS batch, an S3 notification, an SNS notification of one, or an EventBridge event from aws.s3"
EXPECTED_BODIES = "an S3 notification, an SNS envelope of one, or an EventBridge event from aws.s3"


def is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        return False
    return all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)


def sources_of_event(event: Any) -> list[SourceObject]:
    """The objects a directly invoked Lambda event (not an SQS batch) names."""
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        records = event["Records"]
        if records and all(isinstance(r, dict) and r.get("EventSource") == "aws:sns" for r in records):
            return [source for record in records for source in _sns_message(record.get("Sns"))]
        if records and all(isinstance(r, dict) and "s3" in r for r in records):
            return _s3_notification(event)
    if _is_eventbridge(event):
        return _eventbridge(event)
    raise InvalidRequestError(f"unrecognised event: expected {EXPECTED_EVENTS}")


def parse_message(body: Any) -> list[SourceObject]:
    """The objects one SQS message body (already JSON-decoded) names."""
    if not isinstance(body, dict):
        raise InvalidRequestError(f"SQS message body is not a JSON object: expected {EXPECTED_BODIES}")
    if body.get("Type") == "Notification" and "TopicArn" in body:
        return _sns_message(body)
    if _is_eventbridge(body):
        return _eventbridge(body)
    return _s3_notification(body, where="SQS message body")


def parse_body(raw: str) -> list[SourceObject]:
    """The objects one SQS message body (the raw string) names."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequestError(f"SQS message body is not JSON: expected {EXPECTED_BODIES}") from exc
    return parse_message(body)


def _sns_message(sns: Any) -> list[SourceObject]:
    """The S3 notification an SNS envelope (SQS body, or a Lambda record's ``Sns``) carries as a string."""
    if not isinstance(sns, dict) or sns.get("Type") != "Notification" or not isinstance(sns.get("Message"), str):
        raise InvalidRequestError("SNS message is not a Notification with a Message")
    try:
        message = json.loads(sns["Message"])
    except ValueError as exc:
        raise InvalidRequestError("SNS Message is not JSON: expected an S3 notification") from exc
    return _s3_notification(message, where="SNS Message")


def _s3_notification(body: Any, where: str = "event") -> list[SourceObject]:
    if not isinstance(body, dict):
        raise InvalidRequestError(f"{where} is not an S3 notification")
    if body.get("Event") == "s3:TestEvent":
        return []
    records = body.get("Records")
    if not isinstance(records, list):
        raise InvalidRequestError(f"{where} has no S3 Records: expected {EXPECTED_BODIES}")
    sources = []
    for record in records:
        if not isinstance(record, dict) or not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3")
        obj = s3.get("object") if isinstance(s3, dict) else None
        bucket = s3.get("bucket") if isinstance(s3, dict) else None
        sources.append(_source(bucket, obj, etag_field="eTag", version_field="versionId"))
    return sources


def _is_eventbridge(event: Any) -> bool:
    return isinstance(event, dict) and event.get("source") == "aws.s3" and "detail-type" in event


def _eventbridge(event: dict[str, Any]) -> list[SourceObject]:
    if event["detail-type"] != "Object Created":
        return []
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidRequestError("EventBridge event has no detail")
    # AWS documents "etag"; moto sends "eTag".
    etag_field = "etag" if "etag" in (detail.get("object") or {}) else "eTag"
    return [_source(detail.get("bucket"), detail.get("object"), etag_field=etag_field, version_field="version-id")]


def _source(bucket: Any, obj: Any, *, etag_field: str, version_field: str) -> SourceObject:
    if not isinstance(bucket, dict) or not isinstance(bucket.get("name"), str) or not bucket["name"]:
        raise InvalidRequestError("S3 event has no bucket name")
    if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not obj["key"]:
        raise InvalidRequestError("S3 event has no object key")
    size = obj.get("size")
    return SourceObject(
        bucket=bucket["name"],
        key=unquote_plus(obj["key"]),
        etag=str(obj.get(etag_field) or "").strip('"'),
        version_id=str(obj.get(version_field) or "") or None,
        size=size if isinstance(size, int) else None,
    )

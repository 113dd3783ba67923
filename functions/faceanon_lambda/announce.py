"""EventBridge announcements of processed uploads (source ``faceanon``), for whoever subscribes to them.

One event per upload that was anonymised, held for review or rejected (duplicates are not announced: the
first processing was). Published after the audit record is committed, so a failure to publish loses nothing
but the notification; the caller logs it and counts it.
"""

import json
from typing import Any

from .audit import ANONYMISED, HELD, REJECTED
from .s3_pipeline import Outcome

SOURCE = "faceanon"
DETAIL_TYPES = {
    ANONYMISED: "Upload anonymised",
    HELD: "Upload held for review",
    REJECTED: "Upload rejected",
}


class AnnounceError(Exception):
    """EventBridge did not accept the event."""


def announcement(outcome: Outcome, *, bus: str, output_bucket: str) -> dict[str, Any] | None:
    """The PutEvents entry for this outcome, or None when there is nothing to announce."""
    detail_type = DETAIL_TYPES.get(outcome.status)
    if detail_type is None:
        return None
    source = outcome.source
    detail: dict[str, Any] = {
        "status": outcome.status,
        "source": {"bucket": source.bucket, "key": source.key, "etag": source.etag, "version_id": source.version_id},
        "output": {"bucket": output_bucket, "key": outcome.output_key} if outcome.output_key else None,
        "audit": {"bucket": output_bucket, "key": outcome.audit_key},
        "faces": outcome.faces,
        "review": outcome.review,
    }
    if outcome.reason is not None:
        detail["reason"] = outcome.reason
    return {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, separators=(",", ":")),
        "EventBusName": bus,
    }


def announce(events: Any, outcome: Outcome, *, bus: str, output_bucket: str) -> bool:
    """Publish the outcome's event; False when there was nothing to announce. Raises when EventBridge refuses."""
    entry = announcement(outcome, bus=bus, output_bucket=output_bucket)
    if entry is None or not bus:
        return False
    response = events.put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        failed = response.get("Entries", [{}])[0]
        raise AnnounceError(f"{failed.get('ErrorCode', 'unknown')}: {failed.get('ErrorMessage', '')}")
    return True

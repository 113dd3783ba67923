"""``faceanon-review``: list, approve or reject the photos the upload path held for review (ReviewHold=true).

A held photo is anonymised but unpublished: ``{REVIEW_PREFIX}{key}`` in the output bucket, its audit record
``{AUDIT_PREFIX}{key}.json`` with ``"status": "held_for_review"``. A reviewer looks at it, then

* ``approve KEY``: copies it to ``{OUTPUT_PREFIX}{key}`` (tag ``status=anonymised``), updates the audit
  record (``"status": "anonymised"``, ``"output.key"``, ``"approved": {"by", "at"}``), then deletes every
  version of the held copy;
* ``reject KEY``: deletes every version of the held copy, then records ``"status": "rejected"``,
  ``"reason": {"error": "rejected_by_reviewer", "message": "rejected by reviewer[: note]"}`` and
  ``"rejected": {"by", "at"}``.

The audit record is written after the copy and before the delete on approve (the record never names an output
that does not exist), and after the delete on reject (re-running a failed reject finishes it). ``--by``
defaults to the caller's AWS identity (STS), so the record names who acted.

    faceanon-review list
    faceanon-review approve "uploads/crew photo.jpg"
    faceanon-review reject "uploads/crew photo.jpg" --note "a face at the far left is not masked"

Bucket and prefixes default to the upload function's variables (OUTPUT_BUCKET, OUTPUT_PREFIX, AUDIT_PREFIX,
REVIEW_PREFIX), so ``--bucket`` is the only option most runs need.
"""

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

HELD, ANONYMISED, REJECTED = "held_for_review", "anonymised", "rejected"


class ReviewError(Exception):
    """The key is not held for review (or its audit record is missing): nothing was changed."""


@dataclass(frozen=True)
class ReviewStore:
    s3: Any
    bucket: str
    output_prefix: str = "anonymised/"
    audit_prefix: str = "audit/"
    review_prefix: str = "review/"

    def audit_key(self, key: str) -> str:
        return f"{self.audit_prefix}{key}.json"

    def read_record(self, key: str) -> dict[str, Any]:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.audit_key(key))["Body"].read()
        except self.s3.exceptions.NoSuchKey as exc:
            raise ReviewError(f"no audit record for {key}") from exc
        record: dict[str, Any] = json.loads(body)
        return record

    def write_record(self, key: str, record: dict[str, Any]) -> None:
        body = json.dumps(record, indent=1).encode()
        self.s3.put_object(Bucket=self.bucket, Key=self.audit_key(key), Body=body, ContentType="application/json")

    def held_record(self, key: str) -> dict[str, Any]:
        record = self.read_record(key)
        if record.get("status") != HELD:
            raise ReviewError(f"{key} is not held for review (status {record.get('status')!r})")
        return record

    def delete_every_version(self, key: str) -> None:
        """The held copy must not linger as a noncurrent version of a versioned bucket."""
        listing = self.s3.list_object_versions(Bucket=self.bucket, Prefix=key)
        for version in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
            if version["Key"] == key:
                self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version["VersionId"])


def _stamp(by: str, now: datetime | None) -> dict[str, str]:
    return {"by": by, "at": (now or datetime.now(UTC)).isoformat(timespec="seconds")}


def held(store: ReviewStore) -> Iterator[dict[str, Any]]:
    """Every photo waiting for review: source key, held key, faces, why it was flagged, when."""
    for page in store.s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=store.review_prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"][len(store.review_prefix) :]
            try:
                record = store.held_record(key)
            except ReviewError:
                continue  # an approve or reject in progress, or a stray object: not waiting
            yield {
                "key": key,
                "held_key": obj["Key"],
                "faces": record.get("face_count"),
                "review_reasons": record.get("review_reasons", []),
                "created": record.get("created"),
            }


def approve(store: ReviewStore, key: str, *, by: str, now: datetime | None = None) -> dict[str, Any]:
    """Publish a held photo; returns the updated audit record."""
    record = store.held_record(key)
    held_key = record["output"]["key"]
    head = store.s3.head_object(Bucket=store.bucket, Key=held_key)
    version = {"VersionId": head["VersionId"]} if head.get("VersionId") else {}
    tags = store.s3.get_object_tagging(Bucket=store.bucket, Key=held_key, **version)["TagSet"]
    tagging = {tag["Key"]: tag["Value"] for tag in tags} | {"status": ANONYMISED}
    published = f"{store.output_prefix}{key}"
    store.s3.copy_object(
        Bucket=store.bucket,
        Key=published,
        CopySource={"Bucket": store.bucket, "Key": held_key, **version},
        MetadataDirective="COPY",
        TaggingDirective="REPLACE",
        Tagging=urlencode(tagging),
    )
    record["status"] = ANONYMISED
    record["output"]["key"] = published
    record["approved"] = _stamp(by, now)
    store.write_record(key, record)
    store.delete_every_version(held_key)
    return record


def reject(store: ReviewStore, key: str, *, by: str, note: str = "", now: datetime | None = None) -> dict[str, Any]:
    """Delete a held photo; returns the updated audit record."""
    record = store.held_record(key)
    store.delete_every_version(record["output"]["key"])
    record.pop("output")
    record["status"] = REJECTED
    message = "rejected by reviewer" + (f": {note}" if note else "")
    record["reason"] = {"error": "rejected_by_reviewer", "message": message}
    record["rejected"] = _stamp(by, now)
    store.write_record(key, record)
    return record


def build_parser() -> argparse.ArgumentParser:
    env = os.environ
    parser = argparse.ArgumentParser(prog="faceanon-review", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bucket", default=env.get("OUTPUT_BUCKET", ""), help="output bucket (OUTPUT_BUCKET)")
    parser.add_argument("--output-prefix", default=env.get("OUTPUT_PREFIX", "anonymised/"))
    parser.add_argument("--audit-prefix", default=env.get("AUDIT_PREFIX", "audit/"))
    parser.add_argument("--review-prefix", default=env.get("REVIEW_PREFIX", "review/"))
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="photos held for review, one JSON object a line")
    for name, text in (("approve", "publish a held photo"), ("reject", "delete a held photo")):
        command = commands.add_parser(name, help=text)
        command.add_argument("key", help="the source key (as uploaded to the input bucket)")
        command.add_argument("--by", help="who decides (default: your AWS identity, from STS)")
        if name == "reject":
            command.add_argument("--note", default="", help="why (kept in the audit record)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.bucket:
        print("faceanon-review: --bucket (or OUTPUT_BUCKET) is required", file=sys.stderr)
        return 2
    import boto3  # type: ignore[import-untyped]  # only when a command runs: --help stays fast

    store = ReviewStore(boto3.client("s3"), args.bucket, args.output_prefix, args.audit_prefix, args.review_prefix)
    try:
        if args.command == "list":
            for item in held(store):
                print(json.dumps(item))
            return 0
        by = args.by or boto3.client("sts").get_caller_identity()["Arn"]
        if args.command == "approve":
            record = approve(store, args.key, by=by)
        else:
            record = reject(store, args.key, by=by, note=args.note)
    except ReviewError as exc:
        print(f"faceanon-review: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"key": args.key, "status": record["status"], "output": record.get("output", {}).get("key")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

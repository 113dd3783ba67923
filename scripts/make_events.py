"""Regenerate events/*.json (sample Lambda events for every trigger) from the shipped public-domain photo.

Usage: .venv/bin/python scripts/make_events.py              (writes events/)
       .venv/bin/python scripts/make_events.py --size 1024 OUT   (one API JSON event, the photo at 1024 px)
"""

import base64
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import s3_event_shapes as shapes  # scripts/ is sys.path[0] when this file runs
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
SAMPLE = ROOT / "src" / "faceanon" / "samples" / "astronaut.jpg"  # NASA, public domain
INPUT_BUCKET = "faceanon-input-example"
KEY = "uploads/astronaut photo.jpg"  # a space, so the event carries "astronaut+photo.jpg" as S3 sends it
REGION = "eu-west-1"
ACCOUNT = "123456789012"


def small_photo(size: int = 256) -> bytes:
    with Image.open(SAMPLE) as image:
        small = image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=85)
    return out.getvalue()


def s3_put(size: int, etag: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2024-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "EXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "EXAMPLE123456789", "x-amz-id-2": "EXAMPLE"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "faceanon-uploads",
                    "bucket": {
                        "name": INPUT_BUCKET,
                        "ownerIdentity": {"principalId": "EXAMPLE"},
                        "arn": f"arn:aws:s3:::{INPUT_BUCKET}",
                    },
                    "object": {
                        "key": KEY.replace(" ", "+"),
                        "size": size,
                        "eTag": etag,
                        "sequencer": "0A1B2C3D4E5F678901",
                    },
                },
            }
        ]
    }


def sqs(*bodies: dict[str, Any]) -> dict[str, Any]:
    records = []
    for number, body in enumerate(bodies, start=1):
        records.append(
            {
                "messageId": f"00000000-0000-4000-8000-00000000000{number}",
                "receiptHandle": f"EXAMPLE-RECEIPT-{number}",
                "body": json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1704067200000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1704067200001",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:faceanon-uploads",
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def api(body: str, content_type: str, *, base64_encoded: bool, query: dict[str, str] | None = None) -> dict[str, Any]:
    headers = {"Content-Type": content_type, "Accept": "application/json" if not base64_encoded else content_type}
    return {
        "resource": "/anonymise",
        "path": "/anonymise",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/anonymise",
            "httpMethod": "POST",
            "path": "/Prod/anonymise",
            "stage": "Prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": ACCOUNT,
            "apiId": "1234567890",
            "identity": {"sourceIp": "127.0.0.1", "apiKeyId": "EXAMPLEKEYID", "userAgent": "curl/8"},
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def main() -> None:
    photo = small_photo()
    photo_b64 = base64.b64encode(photo).decode()
    etag = hashlib.md5(photo, usedforsecurity=False).hexdigest()
    put = s3_put(len(photo), etag)
    test_event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2024-01-01T00:00:00.000Z",
        "Bucket": INPUT_BUCKET,
        "RequestId": "EXAMPLE",
        "HostId": "EXAMPLE",
    }
    events = {
        "s3_put.json": put,
        "sqs_s3_put.json": sqs(put),
        "sqs_s3_test_event.json": sqs(test_event),
        "sqs_sns_s3_put.json": sqs(shapes.sns_envelope(put)),
        "sns_s3_put.json": shapes.sns_lambda_event(put),
        "eventbridge_s3_object_created.json": shapes.eventbridge_object_created(INPUT_BUCKET, KEY, len(photo), etag),
        "sqs_eventbridge_s3_object_created.json": sqs(
            shapes.eventbridge_object_created(INPUT_BUCKET, KEY, len(photo), etag)
        ),
        "api_json.json": api(
            json.dumps({"image": photo_b64, "method": "fill", "return_boxes": True}),
            "application/json",
            base64_encoded=False,
        ),
        "api_binary.json": api(photo_b64, "image/jpeg", base64_encoded=True, query={"shape": "ellipse"}),
        "api_bad_input.json": api(json.dumps({"image": "not base64!"}), "application/json", base64_encoded=False),
    }
    EVENTS.mkdir(exist_ok=True)
    for name, event in events.items():
        (EVENTS / name).write_text(json.dumps(event, indent=2) + "\n")
    (EVENTS / "photo.jpg").write_bytes(photo)  # the object the S3 events refer to, for local runs


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--size":
        photo_b64 = base64.b64encode(small_photo(int(sys.argv[2]))).decode()
        event = api(json.dumps({"image": photo_b64, "return_boxes": True}), "application/json", base64_encoded=False)
        Path(sys.argv[3]).write_text(json.dumps(event))
    else:
        main()

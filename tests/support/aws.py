"""The Lambda environment on moto: region, bucket names, environment variables, a detector for the handlers,
and the S3 / SQS records the event sources hand a function."""

import functools
import json
from typing import Any
from urllib.parse import quote_plus

import pytest

from faceanon import service
from faceanon_tools.lambda_context import LocalContext

REGION = "eu-west-1"
INPUT, OUTPUT = "faceanon-input-hostile", "faceanon-output-hostile"
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "OUTPUT_BUCKET": OUTPUT,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "faceanon",
    "POWERTOOLS_METRICS_NAMESPACE": "FaceAnon",
    "POWERTOOLS_DEV": "false",
}


Context = functools.partial(LocalContext, function_name="faceanon-hostile", aws_request_id="req-hostile")


def use_detector(monkeypatch: pytest.MonkeyPatch, detector: object) -> None:
    """Make the handlers (which call service.get_detector at import) use this detector; set the Lambda env."""
    monkeypatch.setattr(service, "get_detector", lambda settings: detector)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def create_buckets(s3: Any) -> None:
    for bucket in (INPUT, OUTPUT):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})


def s3_record(bucket: str, key: str, etag: str = "", size: int = 0) -> dict[str, Any]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key), "eTag": etag, "size": size},
        },
    }


def sqs_record(body: dict[str, Any], message_id: str, receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1700000000000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:faceanon-uploads",
        "awsRegion": REGION,
    }


def sqs_event(*keys: str, bucket: str = INPUT) -> dict[str, Any]:
    """One SQS record (one S3 notification) per key."""
    return {"Records": [sqs_record({"Records": [s3_record(bucket, k)]}, f"msg-{i}") for i, k in enumerate(keys)]}


def object_keys(s3: Any, bucket: str = OUTPUT) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))

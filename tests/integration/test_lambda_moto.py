"""The S3 path end to end on moto with the real model: upload -> S3 notification to SQS (moto delivers it)
-> queue handler on the SQS batch -> anonymised object, tags and audit record; duplicates; injected failures.

In-process with ``mock_aws`` here; test_lambda_invoke.py runs the same path out of the SAM build against a
``ThreadedMotoServer`` on 127.0.0.1.
"""

import functools
import io
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from PIL import Image

from faceanon import service
from faceanon.model import SHIPPED_VERIFIER, model_sha256
from faceanon.settings import Settings
from faceanon_tools.lambda_context import LocalContext
from support.handlers import load_handler
from support.sqs_records import lambda_record

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "faceanon" / "samples" / "astronaut.jpg"
REGION, INPUT, OUTPUT = "eu-west-1", "faceanon-in", "faceanon-out"


Context = functools.partial(LocalContext, function_name="AnonymiseUploadFunction", aws_request_id="it-1")


def setup_pipeline(s3: Any, sqs: Any) -> str:
    """Input bucket notifying an SQS queue, versioned output bucket; returns the queue URL."""
    config = {"LocationConstraint": REGION}
    s3.create_bucket(Bucket=INPUT, CreateBucketConfiguration=config)
    s3.create_bucket(Bucket=OUTPUT, CreateBucketConfiguration=config)
    s3.put_bucket_versioning(Bucket=OUTPUT, VersioningConfiguration={"Status": "Enabled"})
    url: str = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=INPUT,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    return url


def drain_as_lambda_event(sqs: Any, url: str) -> dict[str, Any]:
    """What the SQS event source mapping would hand the function: every message moto delivered."""
    records = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
        messages = batch.get("Messages", [])
        if not messages:
            break
        arn = f"arn:aws:sqs:{REGION}:123456789012:uploads"
        records.extend(lambda_record(m, arn, REGION) for m in messages)
    return {"Records": records}


def output_versions(s3: Any) -> list[str]:
    return sorted(v["Key"] for v in s3.list_object_versions(Bucket=OUTPUT).get("Versions", []))


def check_anonymised(source: bytes, output: bytes, faces: list[dict[str, Any]], fill: int = 0) -> None:
    """Every reported face is filled at its centre; far from the faces the photo is unchanged (JPEG noise)."""
    before = np.asarray(Image.open(io.BytesIO(source)).convert("RGB"), dtype=np.int16)
    after = np.asarray(Image.open(io.BytesIO(output)).convert("RGB"), dtype=np.int16)
    assert after.shape == before.shape
    assert faces
    away = np.ones(before.shape[:2], dtype=bool)
    for face in faces:
        x1, y1, x2, y2 = face["box"]
        cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
        assert np.abs(after[cy - 2 : cy + 3, cx - 2 : cx + 3] - fill).mean() < 12
        w, h = x2 - x1, y2 - y1
        away[max(0, int(y1 - h)) : int(y2 + h), max(0, int(x1 - w)) : int(x2 + w)] = False
    assert np.abs(after[away] - before[away]).mean() < 6


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "OUTPUT_BUCKET": OUTPUT,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("s3", region_name=REGION), boto3.client("sqs", region_name=REGION)


@pytest.fixture
def queue_handler(aws: tuple[Any, Any]) -> ModuleType:
    return load_handler("faceanon_lambda.queue_handler")


def test_upload_is_anonymised_once_with_tags_and_audit(aws: tuple[Any, Any], queue_handler: ModuleType) -> None:
    s3, sqs = aws
    url = setup_pipeline(s3, sqs)
    photo = SAMPLE.read_bytes()
    key = "uploads/crew photo (2024).jpg"
    s3.put_object(Bucket=INPUT, Key=key, Body=photo)
    event = drain_as_lambda_event(sqs, url)
    assert any(json.loads(r["body"]).get("Records") for r in event["Records"])  # moto delivered the upload

    assert queue_handler.handler(event, Context()) == {"batchItemFailures": []}
    assert queue_handler.handler(event, Context()) == {"batchItemFailures": []}  # redelivered: no new write
    assert output_versions(s3) == [f"anonymised/{key}", f"audit/{key}.json"]

    output = s3.get_object(Bucket=OUTPUT, Key=f"anonymised/{key}")
    audit = json.loads(s3.get_object(Bucket=OUTPUT, Key=f"audit/{key}.json")["Body"].read())
    expected = service.anonymise(photo, Settings.from_env())
    assert audit["faces"] == [face.to_report() for face in expected.faces]
    assert audit["model_sha256"] == expected.model_sha256
    assert audit["verifier_sha256"] == expected.verifier_sha256 == model_sha256(SHIPPED_VERIFIER)  # default verifies
    assert audit["source"]["key"] == key
    assert audit["source"]["etag"] == s3.head_object(Bucket=INPUT, Key=key)["ETag"].strip('"')
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=OUTPUT, Key=f"anonymised/{key}")["TagSet"]}
    assert tags["faces"] == str(len(expected.faces))
    assert tags["model"] == expected.model_sha256[:16]
    assert len(tags) <= 10
    assert output["ContentType"] == "image/jpeg"
    check_anonymised(photo, output["Body"].read(), audit["faces"])


class FailingClient:
    """Wraps the handler's S3 client; one operation raises (an injected S3 outage)."""

    def __init__(self, client: Any, operation: str) -> None:
        self._client, self._operation = client, operation

    def __getattr__(self, name: str) -> Any:
        if name == self._operation:
            raise_error = self._client.exceptions.ClientError
            error = {"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}

            def fail(**_: Any) -> Any:
                raise raise_error(error, name)

            return fail
        return getattr(self._client, name)


@pytest.mark.parametrize("operation", ["get_object", "put_object"])
def test_injected_s3_failure_reports_the_record_and_writes_nothing(
    aws: tuple[Any, Any], queue_handler: ModuleType, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    s3, sqs = aws
    url = setup_pipeline(s3, sqs)
    s3.put_object(Bucket=INPUT, Key="a.jpg", Body=SAMPLE.read_bytes())
    event = drain_as_lambda_event(sqs, url)
    upload_ids = [r["messageId"] for r in event["Records"] if json.loads(r["body"]).get("Records")]
    monkeypatch.setattr(queue_handler, "S3", FailingClient(s3, operation))
    response = queue_handler.handler(event, Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": i} for i in upload_ids]}
    assert output_versions(s3) == []
    # The retry (S3 healthy again) succeeds.
    monkeypatch.setattr(queue_handler, "S3", s3)
    assert queue_handler.handler(event, Context()) == {"batchItemFailures": []}
    assert output_versions(s3) == ["anonymised/a.jpg", "audit/a.jpg.json"]

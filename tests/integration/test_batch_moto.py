"""The S3 Batch Operations handler with the real model on moto: the three result codes, and a backfilled object
that is indistinguishable from the same photo anonymised by the upload (SQS) path."""

import copy
import functools
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import boto3
import numpy as np
import numpy.typing as npt
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from PIL import Image

from faceanon_tools.lambda_context import LocalContext
from support.handlers import load_handler

EVENTS = Path(__file__).resolve().parents[2] / "events"
INPUT, OUTPUT = "faceanon-input-example", "faceanon-output-example"


Context = functools.partial(LocalContext, function_name="faceanon-backfill-test", aws_request_id="req-batch")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, real_model_path: Path) -> Iterator[Any]:
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "OUTPUT_BUCKET": OUTPUT,
        "FACEANON_MODEL_PATH": str(real_model_path),
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        for bucket in (INPUT, OUTPUT):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def batch_event() -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "s3_batch_operations.json").read_text())
    return event


def task_keys(event: dict[str, Any]) -> list[str]:
    return [unquote_plus(task["s3Key"]) for task in event["tasks"]]


def sqs_event(key: str, etag: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "sqs_s3_put.json").read_text())
    record = event["Records"][0]
    body = json.loads(record["body"])
    body["Records"][0]["s3"]["object"].update({"key": quote_plus(key), "eTag": etag})
    record["body"] = json.dumps(body)
    return event


def pixels(data: bytes) -> npt.NDArray[np.uint8]:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def stored(s3: Any, key: str) -> tuple[npt.NDArray[np.uint8], dict[str, str], dict[str, Any]]:
    """Output pixels, output tags and the audit record (minus what differs per run) of one source key."""
    image = s3.get_object(Bucket=OUTPUT, Key=f"anonymised/{key}")["Body"].read()
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=OUTPUT, Key=f"anonymised/{key}")["TagSet"]}
    audit = json.loads(s3.get_object(Bucket=OUTPUT, Key=f"audit/{key}.json")["Body"].read())
    for volatile in ("created", "request_id", "timings_ms"):
        del audit[volatile]
    return pixels(image), tags, audit


def output_keys(s3: Any) -> list[str]:
    return sorted(obj["Key"] for obj in s3.list_objects_v2(Bucket=OUTPUT).get("Contents", []))


def test_shipped_event_two_photos_and_a_missing_key(
    s3: Any, sample_bytes: bytes, sample_rgb: npt.NDArray[np.uint8]
) -> None:
    event = batch_event()
    photos = task_keys(event)[:2]
    for key in photos:
        s3.put_object(Bucket=INPUT, Key=key, Body=sample_bytes)
    response = load_handler("faceanon_lambda.batch_handler").handler(event, Context())
    assert response["invocationSchemaVersion"] == "2.0"
    assert response["invocationId"] == event["invocationId"]
    results = response["results"]
    assert [r["resultCode"] for r in results] == ["Succeeded", "Succeeded", "PermanentFailure"]
    assert results[0]["resultString"].startswith("anonymised: 1 faces")
    assert results[2]["resultString"] == "S3 NotFound"
    assert output_keys(s3) == sorted([f"anonymised/{k}" for k in photos] + [f"audit/{k}.json" for k in photos])
    for key in photos:
        masked, tags, audit = stored(s3, key)
        assert masked.shape == sample_rgb.shape
        assert (tags["faces"], tags["status"], audit["face_count"]) == ("1", "anonymised", 1)
        x1, y1, x2, y2 = (int(v) for v in audit["faces"][0]["box"])
        face_before = sample_rgb[y1:y2, x1:x2].astype(int)
        face_after = masked[y1:y2, x1:x2].astype(int)
        assert np.abs(face_after - face_before).mean() > 40  # the face really is masked
        assert np.abs(masked[:, :40].astype(int) - sample_rgb[:, :40]).mean() < 6  # the left edge is not


def test_backfilled_object_matches_the_upload_path(s3: Any, sample_bytes: bytes) -> None:
    key = task_keys(batch_event())[0]
    etag = s3.put_object(Bucket=INPUT, Key=key, Body=sample_bytes)["ETag"].strip('"')
    queue = load_handler("faceanon_lambda.queue_handler")
    assert queue.handler(sqs_event(key, etag), Context()) == {"batchItemFailures": []}
    uploaded = stored(s3, key)
    for out in output_keys(s3):
        s3.delete_object(Bucket=OUTPUT, Key=out)

    event = batch_event()
    event["tasks"] = event["tasks"][:1]
    response = load_handler("faceanon_lambda.batch_handler").handler(event, Context())
    assert response["results"][0]["resultCode"] == "Succeeded"
    backfilled = stored(s3, key)
    assert np.array_equal(backfilled[0], uploaded[0])
    assert backfilled[1] == uploaded[1]
    assert backfilled[2] == uploaded[2]


def test_rerun_of_a_job_skips_done_objects(s3: Any, sample_bytes: bytes) -> None:
    event = batch_event()
    for key in task_keys(event)[:2]:
        s3.put_object(Bucket=INPUT, Key=key, Body=sample_bytes)
    handler = load_handler("faceanon_lambda.batch_handler").handler
    handler(event, Context())
    again = handler(copy.deepcopy(event), Context())["results"]
    assert [r["resultCode"] for r in again] == ["Succeeded", "Succeeded", "PermanentFailure"]
    assert all(r["resultString"].startswith("skipped: already anonymised") for r in again[:2])


def test_text_file_is_a_permanent_failure(s3: Any) -> None:
    event = batch_event()
    event["tasks"] = [{**event["tasks"][0], "s3Key": "notes/read+me.txt"}]
    s3.put_object(Bucket=INPUT, Key="notes/read me.txt", Body=b"shopping list: eggs, milk")
    response = load_handler("faceanon_lambda.batch_handler").handler(event, Context())
    assert response["results"][0]["resultCode"] == "PermanentFailure"
    assert response["results"][0]["resultString"].startswith("UnsupportedImageError: ")
    assert output_keys(s3) == []


class ThrottledGets:
    """An S3 client whose GetObject on the input bucket always answers 503 SlowDown (after botocore's retries)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.throttled = 0

    def get_object(self, **kwargs: Any) -> Any:
        if kwargs["Bucket"] == INPUT:
            self.throttled += 1
            error = {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}
            raise ClientError({**error, "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject")
        return self._client.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_throttling_is_a_temporary_failure(s3: Any, sample_bytes: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    event = batch_event()
    event["tasks"] = event["tasks"][:1]
    s3.put_object(Bucket=INPUT, Key=task_keys(event)[0], Body=sample_bytes)
    module = load_handler("faceanon_lambda.batch_handler")
    throttled = ThrottledGets(module.S3)
    monkeypatch.setattr(module, "S3", throttled)
    response = module.handler(event, Context())
    assert response["results"][0] == {
        "taskId": event["tasks"][0]["taskId"],
        "resultCode": "TemporaryFailure",
        "resultString": "S3 SlowDown",
    }
    assert throttled.throttled == 1
    assert output_keys(s3) == []

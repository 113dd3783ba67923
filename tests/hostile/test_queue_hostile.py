"""The hostile corpus through the S3 path: per object (s3_pipeline.anonymise_object) and as one SQS batch
through the queue handler template.yaml wires to the upload queue, on moto's S3.

Invalid input fails with a typed faceanon error and leaves no image in the output bucket (the queue handler
parks it with a rejection record); valid input gives one anonymised object and its audit record.
"""

import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import boto3
import pytest
from moto import mock_aws

from faceanon import service
from faceanon.errors import FaceAnonError
from faceanon.settings import Settings
from hostile.corpus import ImageCase, image_cases
from hostile.guards import hang_guard
from support.aws import INPUT, OUTPUT, REGION, Context, create_buckets, object_keys, sqs_event, use_detector
from support.fakes import BoxDetector
from support.template import template_handler

INVALID = [case for case in image_cases() if not case.valid]


@pytest.fixture(scope="module")
def buckets() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        use_detector(monkeypatch, BoxDetector())
        client = boto3.client("s3", region_name=REGION)
        create_buckets(client)
        yield client


@pytest.fixture
def s3(buckets: Any) -> Iterator[Any]:
    """The module's buckets, emptied after each test."""
    yield buckets
    for bucket in (INPUT, OUTPUT):
        for key in object_keys(buckets, bucket):
            buckets.delete_object(Bucket=bucket, Key=key)


def key_of(case: ImageCase) -> str:
    extension = {"image/png": "png", "image/gif": "gif", "image/tiff": "tif", "image/bmp": "bmp"}
    return f"uploads/{case.name}.{extension.get(case.content_type, 'jpg')}"


@pytest.mark.parametrize("case", image_cases(), ids=lambda c: c.name)
def test_object(s3: Any, case: ImageCase) -> None:
    from faceanon_lambda.config import LambdaConfig
    from faceanon_lambda.s3_pipeline import SourceObject, anonymise_object

    key = key_of(case)
    etag = s3.put_object(Bucket=INPUT, Key=key, Body=case.data)["ETag"].strip('"')
    source = SourceObject(INPUT, key, etag, None, len(case.data))
    run = partial(
        anonymise_object,
        source,
        s3=s3,
        config=LambdaConfig(output_bucket=OUTPUT),
        settings=Settings(),
        anonymise=partial(service.anonymise, detector=BoxDetector()),
    )
    failure: FaceAnonError | None = None
    try:
        with hang_guard(60):
            outcome = run()
    except FaceAnonError as exc:  # typed failures only: anything else fails the test
        failure = exc
    if failure is not None:
        assert type(failure) in case.queue_errors, f"{type(failure).__name__}: {failure}"
        assert object_keys(s3) == []
        return
    assert case.valid, f"{case.name} was anonymised but must fail with {case.queue_errors}"
    assert outcome.status == "anonymised"
    assert object_keys(s3) == [f"anonymised/{key}", f"audit/{key}.json"]


def test_invalid_objects_as_one_sqs_batch(s3: Any) -> None:
    """Every invalid upload is parked: its record succeeds (no retry can help) with a rejection record and
    no image in the output bucket."""
    from faceanon_lambda.audit import REJECTION_CODES

    _, handler = template_handler("SQS")
    keys = [key_of(case) for case in INVALID]
    for case, key in zip(INVALID, keys, strict=True):
        s3.put_object(Bucket=INPUT, Key=key, Body=case.data)
    with hang_guard(120):
        response = handler(sqs_event(*keys), Context())
    assert response == {"batchItemFailures": []}
    assert object_keys(s3) == sorted(f"audit/{key}.json" for key in keys)
    for case, key in zip(INVALID, keys, strict=True):
        record = json.loads(s3.get_object(Bucket=OUTPUT, Key=f"audit/{key}.json")["Body"].read())
        allowed = {code for kind, code in REJECTION_CODES if kind in case.queue_errors}
        assert record["status"] == "rejected"
        assert record["reason"]["error"] in allowed, f"{case.name}: {record['reason']}"

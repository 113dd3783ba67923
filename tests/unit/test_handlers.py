"""Lambda handlers over a fake faceanon.service: the S3 (SQS batch) path on moto's mock_aws (the API: test_api*.py)."""

import copy
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from faceanon import errors, service
from faceanon.service import AnonymiseResult
from faceanon.settings import Settings
from faceanon_tools.lambda_context import LocalContext
from support.api_fakes import FAKE_ERRORS  # first bytes of the fake input -> what the fake service raises
from support.handlers import load_handler
from support.results import make_result

EVENTS = Path(__file__).resolve().parents[2] / "events"
INPUT, OUTPUT = "faceanon-input-example", "faceanon-output-example"


@dataclass
class FakeService:
    calls: list[tuple[bytes, Settings]] = field(default_factory=list)

    def get_detector(self, settings: Settings) -> str:
        return "fake-detector"

    def anonymise(self, data: bytes, settings: Settings, detector: Any = None) -> AnonymiseResult:
        assert detector == "fake-detector"  # the handler passes the module-level detector
        self.calls.append((data, settings))
        for prefix, exc in FAKE_ERRORS.items():
            if data.startswith(prefix):
                raise exc
        return make_result(image=b"ANON:" + data, method=settings.method, shape=settings.shape)


Context = functools.partial(LocalContext, function_name="faceanon-test", aws_request_id="req-1")


@pytest.fixture
def fake_service(monkeypatch: pytest.MonkeyPatch) -> FakeService:
    fake = FakeService()
    monkeypatch.setattr(service, "get_detector", fake.get_detector)
    monkeypatch.setattr(service, "anonymise", fake.anonymise)
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "OUTPUT_BUCKET": OUTPUT,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }.items():
        monkeypatch.setenv(name, value)
    return fake


@pytest.fixture
def s3(fake_service: FakeService) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        for bucket in (INPUT, OUTPUT):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


@pytest.fixture
def queue(s3: Any) -> ModuleType:
    return load_handler("faceanon_lambda.queue_handler")


def sqs_event(*keys: str, etags: dict[str, str] | None = None) -> dict[str, Any]:
    """The shipped SQS-wrapped S3 event, one record per key (keys URL-encoded as S3 sends them)."""
    template = json.loads((EVENTS / "sqs_s3_put.json").read_text())
    records = []
    for number, key in enumerate(keys):
        record = copy.deepcopy(template["Records"][0])
        body = json.loads(record["body"])
        obj = body["Records"][0]["s3"]["object"]
        obj["key"] = quote_plus(key)
        obj["eTag"] = (etags or {}).get(key, "")
        record["body"] = json.dumps(body)
        record["messageId"] = f"msg-{number}"
        records.append(record)
    return {"Records": records}


def upload(s3: Any, key: str, data: bytes) -> str:
    return str(s3.put_object(Bucket=INPUT, Key=key, Body=data)["ETag"]).strip('"')


def output_keys(s3: Any) -> list[str]:
    return sorted(obj["Key"] for obj in s3.list_objects_v2(Bucket=OUTPUT).get("Contents", []))


# ---------------------------------------------------------------- S3 path (SQS batch)


def test_queue_writes_output_tags_and_audit(queue: ModuleType, s3: Any) -> None:
    key = "uploads/my photo (1).jpg"
    etag = upload(s3, key, b"IMG-1")
    response = queue.handler(sqs_event(key, etags={key: etag}), Context())
    assert response == {"batchItemFailures": []}
    out = s3.get_object(Bucket=OUTPUT, Key=f"anonymised/{key}")
    assert out["Body"].read() == b"ANON:IMG-1"
    assert out["ContentType"] == "image/jpeg"
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=OUTPUT, Key=f"anonymised/{key}")["TagSet"]}
    assert tags == {
        "faces": "2",
        "method": "fill",
        "shape": "ellipse",
        "model": "ab" * 8,
        "status": "anonymised",
        "review": "true",
        "source-etag": etag,
    }
    audit = json.loads(s3.get_object(Bucket=OUTPUT, Key=f"audit/{key}.json")["Body"].read())
    assert audit["source"] == {"bucket": INPUT, "key": key, "version_id": None, "etag": etag, "size": 5}
    assert audit["faces"] == [
        {"box": [1.0, 2.0, 30.0, 40.0], "score": 0.9123},
        {"box": [5.0, 6.0, 7.0, 8.0], "score": 0.25},
    ]
    assert audit["model_sha256"] == "ab" * 32
    assert (audit["threshold"], audit["mask_scale"], audit["review_reasons"]) == (0.2, 1.3, ["low_score"])
    assert {"detect", "total", "anonymise_and_store"} <= audit["timings_ms"].keys()


def test_queue_reports_only_the_failed_record(queue: ModuleType, s3: Any, fake_service: FakeService) -> None:
    upload(s3, "good.jpg", b"IMG-good")
    upload(s3, "bad.jpg", b"TEXT-not-an-image")  # the input's fault: parked, the record succeeds
    upload(s3, "broken.jpg", b"MODEL")  # transient: retried
    response = queue.handler(sqs_event("good.jpg", "bad.jpg", "broken.jpg"), Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-2"}]}
    assert output_keys(s3) == ["anonymised/good.jpg", "audit/bad.jpg.json", "audit/good.jpg.json"]


def test_same_message_twice_gives_one_output(queue: ModuleType, s3: Any, fake_service: FakeService) -> None:
    etag = upload(s3, "a.jpg", b"IMG-a")
    event = sqs_event("a.jpg", etags={"a.jpg": etag})
    assert queue.handler(event, Context()) == {"batchItemFailures": []}
    assert queue.handler(event, Context()) == {"batchItemFailures": []}
    assert len(fake_service.calls) == 1
    assert output_keys(s3) == ["anonymised/a.jpg", "audit/a.jpg.json"]


def test_new_upload_of_same_key_is_processed_again(queue: ModuleType, s3: Any, fake_service: FakeService) -> None:
    first = upload(s3, "a.jpg", b"IMG-first")
    queue.handler(sqs_event("a.jpg", etags={"a.jpg": first}), Context())
    second = upload(s3, "a.jpg", b"IMG-second")
    queue.handler(sqs_event("a.jpg", etags={"a.jpg": second}), Context())
    assert s3.get_object(Bucket=OUTPUT, Key="anonymised/a.jpg")["Body"].read() == b"ANON:IMG-second"
    # A late, stale message for the first upload changes nothing.
    queue.handler(sqs_event("a.jpg", etags={"a.jpg": first}), Context())
    assert [data for data, _ in fake_service.calls] == [b"IMG-first", b"IMG-second"]


@pytest.mark.parametrize("payload", [b"MODEL", b"CRASH"])
def test_queue_fails_closed_and_retries_transient_errors(queue: ModuleType, s3: Any, payload: bytes) -> None:
    upload(s3, "x.jpg", payload)
    response = queue.handler(sqs_event("x.jpg"), Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert output_keys(s3) == []


@pytest.mark.parametrize(
    ("payload", "error", "message"),
    [
        (b"TEXT", "unsupported_media_type", "not an image faceanon can decode"),
        (b"BIG", "image_too_large", "image has 60000000 pixels; the limit is 50000000"),
    ],
)
def test_queue_parks_bad_images_with_a_rejection_record(
    queue: ModuleType, s3: Any, fake_service: FakeService, payload: bytes, error: str, message: str
) -> None:
    etag = upload(s3, "x.jpg", payload)
    event = sqs_event("x.jpg", etags={"x.jpg": etag})
    assert queue.handler(event, Context()) == {"batchItemFailures": []}
    assert output_keys(s3) == ["audit/x.jpg.json"]  # no image: fail closed
    record = json.loads(s3.get_object(Bucket=OUTPUT, Key="audit/x.jpg.json")["Body"].read())
    assert record["status"] == "rejected"
    assert record["reason"] == {"error": error, "message": message}
    assert record["source"] == {"bucket": INPUT, "key": "x.jpg", "version_id": None, "etag": etag, "size": len(payload)}
    assert "output" not in record
    # Redelivered: the rejection record means done, the image is not decoded again.
    assert queue.handler(event, Context()) == {"batchItemFailures": []}
    assert len(fake_service.calls) == 1


def test_queue_fails_closed_when_output_write_fails(queue: ModuleType, s3: Any) -> None:
    upload(s3, "x.jpg", b"IMG")
    s3.delete_bucket(Bucket=OUTPUT)
    assert queue.handler(sqs_event("x.jpg"), Context()) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}


def test_queue_retries_a_missing_source_and_parks_one_too_large(
    queue: ModuleType, s3: Any, fake_service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "SETTINGS", Settings(max_bytes=4))
    upload(s3, "big.jpg", b"IMG-12345")
    response = queue.handler(sqs_event("missing.jpg", "big.jpg"), Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}  # S3 NoSuchKey: retried
    assert fake_service.calls == []
    assert output_keys(s3) == ["audit/big.jpg.json"]
    record = json.loads(s3.get_object(Bucket=OUTPUT, Key="audit/big.jpg.json")["Body"].read())
    assert (record["status"], record["reason"]["error"]) == ("rejected", "payload_too_large")
    assert record["reason"]["message"] == "object is 9 bytes; the limit is 4"


def test_queue_ignores_s3_test_event(queue: ModuleType, s3: Any, fake_service: FakeService) -> None:
    event = json.loads((EVENTS / "sqs_s3_test_event.json").read_text())
    assert queue.handler(event, Context()) == {"batchItemFailures": []}
    assert fake_service.calls == []


def test_queue_refuses_to_read_the_output_bucket(queue: ModuleType, s3: Any) -> None:
    s3.put_object(Bucket=OUTPUT, Key="loop.jpg", Body=b"IMG")
    event = sqs_event("loop.jpg")
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["bucket"]["name"] = OUTPUT
    event["Records"][0]["body"] = json.dumps(body)
    assert queue.handler(event, Context()) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert output_keys(s3) == ["loop.jpg"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"Event": "s3:TestEvent", "Service": "Amazon S3"}, []),
        ({"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {}}]}, []),
        (
            {
                "Records": [
                    {
                        "eventName": "ObjectCreated:Put",
                        "s3": {"bucket": {"name": "b"}, "object": {"key": "a+b%2Bc.jpg", "eTag": '"e"', "size": 3}},
                    }
                ]
            },
            [("b", "a b+c.jpg", "e")],
        ),
    ],
)
def test_parse_message(queue: ModuleType, body: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    from faceanon_lambda.s3_events import parse_message

    assert [(s.bucket, s.key, s.etag) for s in parse_message(body)] == expected


@pytest.mark.parametrize("body", [[], "text", {"NoRecords": 1}])
def test_parse_message_rejects_non_s3_bodies(queue: ModuleType, body: Any) -> None:
    from faceanon_lambda.s3_events import parse_message

    with pytest.raises(errors.InvalidRequestError):
        parse_message(body)


class FailingPuts:
    """An S3 client whose put_object fails for keys under ``prefix`` (an injected S3 outage)."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client, self._prefix = client, prefix

    def put_object(self, **kwargs: Any) -> Any:
        if kwargs["Key"].startswith(self._prefix):
            raise RuntimeError("injected S3 failure")
        return self._client.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.mark.parametrize("failing_prefix", ["anonymised/", "audit/"])
def test_queue_leaves_no_output_when_a_write_fails(
    queue: ModuleType, s3: Any, monkeypatch: pytest.MonkeyPatch, failing_prefix: str
) -> None:
    s3.put_bucket_versioning(Bucket=OUTPUT, VersioningConfiguration={"Status": "Enabled"})
    upload(s3, "x.jpg", b"IMG")
    monkeypatch.setattr(queue, "S3", FailingPuts(s3, failing_prefix))
    assert queue.handler(sqs_event("x.jpg"), Context()) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    versions = s3.list_object_versions(Bucket=OUTPUT)
    assert versions.get("Versions", []) == []
    assert versions.get("DeleteMarkers", []) == []

"""Every S3 event shape through the upload function of template.yaml, on moto, with the real service and a
marker detector: the shipped sample events (events/) and the shapes moto itself delivers (S3 -> SNS -> SQS raw
and enveloped, S3 -> EventBridge -> SQS through the template's rule). Each gives the photo anonymised in the
output bucket (compared by pixels); an unknown shape is refused clearly."""

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

from faceanon.errors import InvalidRequestError
from support.aws import INPUT, OUTPUT, REGION, Context, create_buckets, object_keys, sqs_record, use_detector
from support.fakes import FakeDetector
from support.images import marked, to_bytes
from support.sqs_records import lambda_record
from support.template import resources, template, template_handler, with_defaults

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLE_BUCKET, SAMPLE_KEY = "faceanon-input-example", "uploads/astronaut photo.jpg"
FACE = (20, 16, 44, 40)  # the marker FakeDetector calls a face
PHOTO = marked(96, 72, FACE)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    use_detector(monkeypatch, FakeDetector())
    with mock_aws():
        clients = {name: boto3.client(name, region_name=REGION) for name in ("s3", "sqs", "sns", "events")}
        create_buckets(clients["s3"])
        yield clients


@pytest.fixture
def handler(aws: dict[str, Any]) -> ModuleType:
    module, _ = template_handler("SQS")
    return module


def upload(s3: Any, key: str = SAMPLE_KEY) -> str:
    return str(s3.put_object(Bucket=INPUT, Key=key, Body=to_bytes(Image.fromarray(PHOTO), "PNG"))["ETag"]).strip('"')


def sample(name: str, etag: str) -> dict[str, Any]:
    """A shipped sample event aimed at the test's bucket and upload (also inside nested JSON strings)."""
    text = (EVENTS / name).read_text()
    original = json.dumps(json.loads((EVENTS / "s3_put.json").read_text())["Records"][0]["s3"]["object"]["eTag"])
    text = text.replace(SAMPLE_BUCKET, INPUT).replace(original.strip('"'), etag)
    event: dict[str, Any] = json.loads(text)
    return event


def assert_anonymised(s3: Any, key: str = SAMPLE_KEY) -> None:
    """The marker is masked (filled black at its centre); away from it the photo is unchanged, pixel for pixel."""
    assert object_keys(s3) == [f"anonymised/{key}", f"audit/{key}.json"]
    out = np.asarray(Image.open(io.BytesIO(s3.get_object(Bucket=OUTPUT, Key=f"anonymised/{key}")["Body"].read())))
    x1, y1, x2, y2 = FACE
    assert (out[(y1 + y2) // 2, (x1 + x2) // 2] == 0).all()
    assert (out[y1:y2, x1:x2] == (255, 0, 0)).all(axis=2).sum() == 0  # no marker pixel survives
    assert np.array_equal(out[:, 70:], PHOTO[:, 70:])
    audit = json.loads(s3.get_object(Bucket=OUTPUT, Key=f"audit/{key}.json")["Body"].read())
    assert (audit["status"], audit["face_count"], audit["output"]["key"]) == ("anonymised", 1, f"anonymised/{key}")


@pytest.mark.parametrize(
    "name",
    [
        "sqs_s3_put.json",  # S3 -> SQS (and S3 -> SNS -> SQS with raw message delivery: the same body)
        "sqs_sns_s3_put.json",  # S3 -> SNS -> SQS, SNS envelope
        "sqs_eventbridge_s3_object_created.json",  # S3 -> EventBridge -> SQS
    ],
)
def test_sqs_samples_are_anonymised(aws: dict[str, Any], handler: ModuleType, name: str) -> None:
    event = sample(name, upload(aws["s3"]))
    assert handler.handler(event, Context()) == {"batchItemFailures": []}
    assert_anonymised(aws["s3"])


@pytest.mark.parametrize(
    "name",
    [
        "s3_put.json",  # S3 -> Lambda, sam local invoke -e events/s3_put.json
        "sns_s3_put.json",  # S3 -> SNS -> Lambda
        "eventbridge_s3_object_created.json",  # S3 -> EventBridge -> Lambda
    ],
)
def test_direct_samples_are_anonymised(aws: dict[str, Any], handler: ModuleType, name: str) -> None:
    event = sample(name, upload(aws["s3"]))
    response = handler.handler(event, Context())
    assert response == {
        "results": [{"key": SAMPLE_KEY, "status": "anonymised", "output_key": f"anonymised/{SAMPLE_KEY}"}]
    }
    assert_anonymised(aws["s3"])


def test_sam_generated_event_with_another_etag_is_processed_with_a_warning(
    aws: dict[str, Any], handler: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """`sam local generate-event s3 put` names eTag 0123...: the object is read, processed, and the mismatch logged."""
    upload(aws["s3"])
    event = json.loads((EVENTS / "s3_put_sam_generated.json").read_text().replace(SAMPLE_BUCKET, INPUT))
    assert handler.handler(event, Context())["results"][0]["status"] == "anonymised"
    assert_anonymised(aws["s3"])
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "faceanon" and r.levelname == "WARNING"]
    assert "notification eTag 0123456789abcdef0123456789abcdef is not the object's eTag" in warning
    assert "processed the object as it is now" in warning


@pytest.mark.parametrize("raw", [False, True], ids=["envelope", "raw"])
def test_s3_to_sns_to_sqs_as_moto_delivers_it(aws: dict[str, Any], handler: ModuleType, raw: bool) -> None:
    s3, sns, sqs = aws["s3"], aws["sns"], aws["sqs"]
    topic = sns.create_topic(Name="faceanon-uploads")["TopicArn"]
    url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": str(raw).lower()}
    )
    s3.put_bucket_notification_configuration(
        Bucket=INPUT,
        NotificationConfiguration={"TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]},
    )
    upload(s3)
    event = {"Records": [lambda_record(m, queue_arn, REGION) for m in receive_all(sqs, url)]}
    bodies = [json.loads(r["body"]) for r in event["Records"]]
    assert any(("Records" in b) if raw else (b.get("Type") == "Notification") for b in bodies)
    assert handler.handler(event, Context()) == {"batchItemFailures": []}
    assert_anonymised(s3)


def template_rule_pattern(prefix: str = "", suffix: str = "") -> dict[str, Any]:
    """UploadEventRule's pattern as deployed for the test's bucket, with these UploadPrefix/UploadSuffix."""
    pattern: dict[str, Any] = with_defaults(resources("AWS::Events::Rule")["UploadEventRule"]["Properties"])[
        "EventPattern"
    ]
    assert template()["Parameters"]["UploadSuffix"]["Default"] == ""
    pattern["detail"]["bucket"]["name"] = [INPUT]
    ((matcher,),) = [pattern["detail"]["object"]["key"]]
    assert matcher == {"wildcard": {"Fn::Sub": "${UploadPrefix}*${UploadSuffix}"}}
    pattern["detail"]["object"]["key"] = [{"wildcard": f"{prefix}*{suffix}"}]
    return pattern


def test_s3_to_eventbridge_to_sqs_through_the_template_rule(aws: dict[str, Any], handler: ModuleType) -> None:
    s3, sqs, events = aws["s3"], aws["sqs"], aws["events"]
    url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="uploads", EventPattern=json.dumps(template_rule_pattern("uploads/", ".png")))
    events.put_targets(Rule="uploads", Targets=[{"Id": "upload-queue", "Arn": queue_arn}])
    s3.put_bucket_notification_configuration(Bucket=INPUT, NotificationConfiguration={"EventBridgeConfiguration": {}})
    key = "uploads/crew photo.png"  # moto sends EventBridge keys unencoded; no "+" or "%" so both readings agree
    upload(s3, key)
    upload(s3, "uploads/ignored.txt")  # suffix filter: no event
    upload(s3, "elsewhere/ignored.png")  # prefix filter: no event
    messages = receive_all(sqs, url)
    assert [json.loads(m["Body"])["detail"]["object"]["key"] for m in messages] == [key]
    event = {"Records": [lambda_record(m, queue_arn, REGION) for m in messages]}
    assert handler.handler(event, Context()) == {"batchItemFailures": []}
    assert_anonymised(s3, key)


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages"):
        messages.extend(batch)
    return messages


@pytest.mark.parametrize(
    "event",
    [{"hello": "world"}, {"Records": [{"eventSource": "aws:kinesis"}]}, {"source": "aws.ec2", "detail-type": "x"}],
)
def test_an_unknown_direct_event_is_refused_clearly(aws: dict[str, Any], handler: ModuleType, event: Any) -> None:
    with pytest.raises(InvalidRequestError, match="unrecognised event: expected an SQS batch, an S3 notification"):
        handler.handler(event, Context())
    assert object_keys(aws["s3"]) == []


@pytest.mark.parametrize("body", ["not json", json.dumps({"hello": "world"}), json.dumps([1, 2])])
def test_an_unknown_sqs_message_fails_its_record_only(aws: dict[str, Any], handler: ModuleType, body: str) -> None:
    upload(aws["s3"])
    good = sample("sqs_s3_put.json", aws["s3"].head_object(Bucket=INPUT, Key=SAMPLE_KEY)["ETag"].strip('"'))
    bad = sqs_record({}, "msg-bad") | {"body": body}
    response = handler.handler({"Records": [good["Records"][0], bad]}, Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-bad"}]}  # retried, then dead-lettered
    assert_anonymised(aws["s3"])


def test_events_about_other_things_than_new_objects_do_nothing(aws: dict[str, Any], handler: ModuleType) -> None:
    deleted = json.loads((EVENTS / "eventbridge_s3_object_created.json").read_text())
    deleted["detail-type"] = "Object Deleted"
    assert handler.handler(deleted, Context()) == {"results": []}
    test_event = json.loads((EVENTS / "sqs_s3_test_event.json").read_text())
    assert handler.handler(test_event, Context()) == {"batchItemFailures": []}
    assert object_keys(aws["s3"]) == []

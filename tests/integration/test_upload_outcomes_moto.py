"""What the upload function does with each kind of upload, on moto, through the SQS handler of template.yaml:
bad images are parked (rejection record, ImagesRejected, the message succeeds), transient failures are retried,
flagged photos are held for review when ReviewHold is on, and every result is announced on EventBridge
(a failed announcement loses nothing)."""

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from faceanon.errors import ModelError
from support.aws import INPUT, OUTPUT, REGION, object_keys, use_detector
from support.fakes import FakeDetector
from support.images import marked, to_bytes
from support.stack import Stack
from support.template import template_handler

KEY = "uploads/team photo.png"
PHOTO = to_bytes(Image.fromarray(marked(64, 48, (10, 10, 30, 30))), "PNG")
UNSURE = 0.3  # FakeDetector score below threshold + REVIEW_SCORE_BAND: the result is flagged for review


class Detector(FakeDetector):
    """FakeDetector that can be made to fail like a broken model."""

    broken = False

    def detect(self, rgb: Any, *, threshold: float | None, detection: str = "default") -> Any:
        if self.broken:
            raise ModelError("model failed at inference")
        return super().detect(rgb, threshold=threshold, detection=detection)


@pytest.fixture
def detector() -> Detector:
    return Detector()


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, detector: Detector) -> Iterator[Stack]:
    use_detector(monkeypatch, detector)
    monkeypatch.setenv("EVENT_BUS_NAME", "default")
    with mock_aws():
        yield Stack.create(boto3.client("s3", region_name=REGION), boto3.client("sqs", region_name=REGION))


@pytest.fixture
def announcements(stack: Stack) -> Any:
    """A rule on the default bus sending every faceanon event to a queue; returns a reader of that queue."""
    events = boto3.client("events", region_name=REGION)
    url = stack.sqs.create_queue(QueueName="announcements")["QueueUrl"]
    arn = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="faceanon", EventPattern=json.dumps({"source": ["faceanon"]}))
    events.put_targets(Rule="faceanon", Targets=[{"Id": "q", "Arn": arn}])
    return lambda: [json.loads(m["Body"]) for m in stack.receive(url)]


def handler_module(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    module, _ = template_handler("SQS")
    return module


def recorded_metrics(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> list[tuple[str, float]]:
    seen: list[tuple[str, float]] = []
    original = module.metrics.add_metric

    def spy(name: str, unit: Any, value: float, **kwargs: Any) -> None:
        seen.append((name, value))
        original(name=name, unit=unit, value=value, **kwargs)

    monkeypatch.setattr(module.metrics, "add_metric", spy)
    return seen


def audit(stack: Stack, key: str = KEY) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(stack.s3.get_object(Bucket=OUTPUT, Key=f"audit/{key}.json")["Body"].read())
    return record


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"plain text, not an image", "unsupported_media_type"),
        (PHOTO[: len(PHOTO) // 2], "unsupported_media_type"),  # corrupt: truncated PNG
        (to_bytes(Image.new("RGB", (300, 300)), "PNG"), "image_too_large"),  # FACEANON_MAX_PIXELS below
        (PHOTO + b"\0" * 5000, "payload_too_large"),  # FACEANON_MAX_BYTES below
    ],
    ids=["not-an-image", "corrupt", "too-many-pixels", "over-max-bytes"],
)
def test_bad_images_are_parked_once_with_a_rejection_record(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, announcements: Any, data: bytes, error: str
) -> None:
    module = handler_module(monkeypatch, FACEANON_MAX_PIXELS="50000", FACEANON_MAX_BYTES=str(len(PHOTO) + 1000))
    seen = recorded_metrics(monkeypatch, module)
    etag = stack.upload(KEY, data)
    stack.drain(module.handler)
    assert stack.deliveries == [{"batchItemFailures": []}]  # one delivery: not retried
    assert stack.dead_letters() == []
    assert object_keys(stack.s3) == [f"audit/{KEY}.json"]  # no image
    record = audit(stack)
    assert (record["status"], record["reason"]["error"]) == ("rejected", error)
    assert record["reason"]["message"]
    assert (record["source"]["key"], record["source"]["etag"]) == (KEY, etag)
    assert record["source"]["version_id"] == stack.s3.head_object(Bucket=INPUT, Key=KEY)["VersionId"]
    assert ("ImagesRejected", 1) in seen
    (event,) = announcements()
    assert (event["source"], event["detail-type"]) == ("faceanon", "Upload rejected")
    assert event["detail"]["status"] == "rejected"
    assert event["detail"]["reason"]["error"] == error
    assert event["detail"]["output"] is None


def test_a_broken_model_is_retried_then_dead_lettered(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, detector: Detector
) -> None:
    module = handler_module(monkeypatch)
    detector.broken = True
    stack.upload(KEY, PHOTO)
    stack.drain(module.handler)
    assert [len(d["batchItemFailures"]) for d in stack.deliveries] == [1, 1, 1]
    assert len(stack.dead_letters()) == 1
    assert object_keys(stack.s3) == []


def test_a_flagged_photo_is_held_for_review(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, detector: Detector, announcements: Any
) -> None:
    module = handler_module(monkeypatch, REVIEW_HOLD="true")
    detector.score = UNSURE
    etag = stack.upload(KEY, PHOTO)
    stack.drain(module.handler)
    assert object_keys(stack.s3) == [f"audit/{KEY}.json", f"review/{KEY}"]  # nothing published
    record = audit(stack)
    assert (record["status"], record["output"]["key"], record["review"]) == ("held_for_review", f"review/{KEY}", True)
    tags = {t["Key"]: t["Value"] for t in stack.s3.get_object_tagging(Bucket=OUTPUT, Key=f"review/{KEY}")["TagSet"]}
    assert tags["status"] == "held_for_review"
    (event,) = announcements()
    assert event["detail-type"] == "Upload held for review"
    detail = event["detail"]
    assert (detail["source"]["key"], detail["source"]["etag"]) == (KEY, etag)
    assert (detail["output"]["key"], detail["faces"], detail["status"]) == (f"review/{KEY}", 1, "held_for_review")


@pytest.mark.parametrize(("hold", "score"), [("false", UNSURE), ("true", 0.9)], ids=["hold-off", "not-flagged"])
def test_without_the_hold_or_a_flag_the_photo_is_published(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, detector: Detector, announcements: Any, hold: str, score: float
) -> None:
    module = handler_module(monkeypatch, REVIEW_HOLD=hold)
    detector.score = score
    stack.upload(KEY, PHOTO)
    stack.drain(module.handler)
    assert object_keys(stack.s3) == [f"anonymised/{KEY}", f"audit/{KEY}.json"]
    assert audit(stack)["status"] == "anonymised"
    (event,) = announcements()
    assert event["detail-type"] == "Upload anonymised"
    assert event["detail"]["output"] == {"bucket": OUTPUT, "key": f"anonymised/{KEY}"}


def test_a_failed_announcement_loses_nothing(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    module = handler_module(monkeypatch)
    seen = recorded_metrics(monkeypatch, module)

    class Refusing:
        def put_events(self, **_: Any) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}]}

    monkeypatch.setattr(module, "EVENTS", Refusing())
    stack.upload(KEY, PHOTO)
    stack.drain(module.handler)
    assert stack.deliveries == [{"batchItemFailures": []}]
    assert object_keys(stack.s3) == [f"anonymised/{KEY}", f"audit/{KEY}.json"]
    assert ("AnnounceFailures", 1) in seen


def test_duplicates_are_not_announced_again(stack: Stack, monkeypatch: pytest.MonkeyPatch, announcements: Any) -> None:
    module = handler_module(monkeypatch)
    stack.upload(KEY, PHOTO)
    (notification,) = stack.receive()
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=notification["Body"])  # at-least-once
    stack.sqs.change_message_visibility(
        QueueUrl=stack.queue_url, ReceiptHandle=notification["ReceiptHandle"], VisibilityTimeout=0
    )
    stack.drain(module.handler)
    assert len(announcements()) == 1

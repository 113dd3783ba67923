"""faceanon-review on moto, on photos the upload function of template.yaml really held (REVIEW_HOLD=true, an
unsure detection): list, approve (copy, audit, delete every held version), reject (delete, audit); both audited."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from faceanon_tools import review
from support.aws import OUTPUT, REGION, object_keys, use_detector
from support.fakes import FakeDetector
from support.images import marked, to_bytes
from support.stack import Stack
from support.template import template_handler

KEY = "uploads/crowd photo.png"
PHOTO = to_bytes(Image.fromarray(marked(64, 48, (10, 10, 30, 30))), "PNG")
WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    use_detector(monkeypatch, FakeDetector(score=0.3))  # unsure: flagged for review
    monkeypatch.setenv("REVIEW_HOLD", "true")
    with mock_aws():
        stack = Stack.create(boto3.client("s3", region_name=REGION), boto3.client("sqs", region_name=REGION))
        module, _ = template_handler("SQS")
        stack.upload(KEY, PHOTO)
        stack.drain(module.handler)
        assert object_keys(stack.s3) == [f"audit/{KEY}.json", f"review/{KEY}"]
        yield stack


@pytest.fixture
def store(stack: Stack) -> review.ReviewStore:
    return review.ReviewStore(stack.s3, OUTPUT)


def audit(stack: Stack) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(stack.s3.get_object(Bucket=OUTPUT, Key=f"audit/{KEY}.json")["Body"].read())
    return record


def test_list_shows_the_held_photo(store: review.ReviewStore) -> None:
    (item,) = review.held(store)
    assert (item["key"], item["held_key"], item["faces"], item["review_reasons"]) == (
        KEY,
        f"review/{KEY}",
        1,
        ["low_score"],
    )


def test_approve_publishes_and_audits(stack: Stack, store: review.ReviewStore) -> None:
    held_image = stack.s3.get_object(Bucket=OUTPUT, Key=f"review/{KEY}")["Body"].read()
    review.approve(store, KEY, by="arn:aws:iam::123456789012:user/reviewer", now=WHEN)
    assert stack.output_versions() == [f"anonymised/{KEY}", f"audit/{KEY}.json", f"audit/{KEY}.json"]
    published = stack.s3.get_object(Bucket=OUTPUT, Key=f"anonymised/{KEY}")
    assert published["Body"].read() == held_image
    assert published["ContentType"] == "image/png"
    tags = {t["Key"]: t["Value"] for t in stack.s3.get_object_tagging(Bucket=OUTPUT, Key=f"anonymised/{KEY}")["TagSet"]}
    assert (tags["status"], tags["faces"], tags["review"]) == ("anonymised", "1", "true")
    record = audit(stack)
    assert (record["status"], record["output"]["key"]) == ("anonymised", f"anonymised/{KEY}")
    assert record["approved"] == {"by": "arn:aws:iam::123456789012:user/reviewer", "at": "2026-12-01T12:00:00+00:00"}
    assert list(review.held(store)) == []


def test_reject_deletes_and_audits(stack: Stack, store: review.ReviewStore) -> None:
    review.reject(store, KEY, by="reviewer@example.com", note="a face at the edge is not masked", now=WHEN)
    assert stack.output_versions() == [f"audit/{KEY}.json", f"audit/{KEY}.json"]  # no version of the image left
    record = audit(stack)
    assert record["status"] == "rejected"
    assert record["reason"] == {
        "error": "rejected_by_reviewer",
        "message": "rejected by reviewer: a face at the edge is not masked",
    }
    assert record["rejected"] == {"by": "reviewer@example.com", "at": "2026-12-01T12:00:00+00:00"}
    assert "output" not in record


@pytest.mark.parametrize("decide", [review.approve, review.reject])
def test_a_decided_or_unknown_key_is_refused(store: review.ReviewStore, decide: Any) -> None:
    decide(store, KEY, by="first")
    with pytest.raises(review.ReviewError, match="is not held for review"):
        decide(store, KEY, by="second")
    with pytest.raises(review.ReviewError, match="no audit record"):
        decide(store, "uploads/never.png", by="second")


def test_the_command_line(stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTPUT_BUCKET", OUTPUT)
    assert review.main(["list"]) == 0
    assert json.loads(capsys.readouterr().out)["key"] == KEY
    assert review.main(["approve", KEY]) == 0  # --by defaults to the caller's identity (moto's STS)
    assert json.loads(capsys.readouterr().out) == {"key": KEY, "status": "anonymised", "output": f"anonymised/{KEY}"}
    assert audit(stack)["approved"]["by"].startswith("arn:aws:")
    assert review.main(["reject", KEY, "--by", "me"]) == 1
    assert "is not held for review" in capsys.readouterr().err

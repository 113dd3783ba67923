"""SQS redelivery end to end on moto (S3 notification -> queue -> handler -> output), with the template's
redrive policy: a transient fault is retried and succeeds once; a persistent one ends in the dead-letter
queue after maxReceiveCount receives with no output; duplicates give one output, identical content and tags."""

import json
from types import ModuleType
from typing import Any
from urllib.parse import unquote_plus

import pytest

from faults.faults import Faults
from hostile.corpus import base_jpeg, private_photo
from support.aws import OUTPUT
from support.stack import Stack, template_max_receive_count

KEY = "uploads/holiday.jpg"


def dead_key(message: dict[str, Any]) -> str:
    return unquote_plus(json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"])


def output_state(stack: Stack) -> tuple[bytes, dict[str, str], dict[str, Any]]:
    image = stack.s3.get_object(Bucket=OUTPUT, Key=f"anonymised/{KEY}")["Body"].read()
    tags = stack.s3.get_object_tagging(Bucket=OUTPUT, Key=f"anonymised/{KEY}")["TagSet"]
    audit = json.loads(stack.s3.get_object(Bucket=OUTPUT, Key=f"audit/{KEY}.json")["Body"].read())
    return image, {t["Key"]: t["Value"] for t in tags}, audit


def test_the_upload_notification_reaches_the_handler(stack: Stack, queue: ModuleType) -> None:
    stack.upload(KEY, base_jpeg())
    assert stack.drain(queue.handler) == 1
    assert stack.output_versions() == [f"anonymised/{KEY}", f"audit/{KEY}.json"]


def test_transient_fault_is_retried_and_succeeds_once(stack: Stack, queue: ModuleType, faults: Faults) -> None:
    stack.upload(KEY, base_jpeg())
    faults.add("GetObject", "read_timeout", bucket="faceanon-input-hostile", times=1)
    stack.drain(queue.handler)
    assert [len(d["batchItemFailures"]) for d in stack.deliveries] == [1, 0]
    assert stack.output_versions() == [f"anonymised/{KEY}", f"audit/{KEY}.json"]
    assert stack.dead_letters() == []


def test_persistent_fault_ends_in_the_dead_letter_queue(stack: Stack, queue: ModuleType, faults: Faults) -> None:
    stack.upload(KEY, base_jpeg())
    faults.add("PutObject", "internal_error", key_prefix="anonymised/")
    stack.drain(queue.handler)
    attempts = template_max_receive_count()
    assert [len(d["batchItemFailures"]) for d in stack.deliveries] == [1] * attempts
    dead = stack.dead_letters()
    assert len(dead) == 1
    assert dead_key(dead[0]) == KEY
    assert stack.output_versions() == []


def test_not_an_image_is_parked_not_retried(stack: Stack, queue: ModuleType) -> None:
    """The input's fault: one delivery, a rejection record, no image, nothing in the dead-letter queue."""
    stack.upload(KEY, b"<html>not a photo</html>")
    stack.drain(queue.handler)
    assert stack.deliveries == [{"batchItemFailures": []}]
    assert stack.dead_letters() == []
    assert stack.output_versions() == [f"audit/{KEY}.json"]
    record = json.loads(stack.s3.get_object(Bucket=OUTPUT, Key=f"audit/{KEY}.json")["Body"].read())
    assert (record["status"], record["reason"]["error"]) == ("rejected", "unsupported_media_type")


def test_an_unrecognised_message_ends_in_the_dead_letter_queue(stack: Stack, queue: ModuleType) -> None:
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps({"hello": "world"}))
    stack.drain(queue.handler)
    assert len(stack.deliveries) == template_max_receive_count()
    assert [m["Body"] for m in stack.dead_letters()] == [json.dumps({"hello": "world"})]
    assert stack.output_versions() == []


def test_one_bad_record_does_not_fail_the_batch(stack: Stack, queue: ModuleType) -> None:
    stack.upload("uploads/bad.jpg", b"\xff\xd8\xff truncated")
    stack.upload(KEY, base_jpeg())
    stack.drain(queue.handler)
    assert sorted(stack.output_versions()) == [f"anonymised/{KEY}", "audit/uploads/bad.jpg.json", f"audit/{KEY}.json"]
    assert stack.dead_letters() == []


def test_duplicate_deliveries_give_one_identical_output(stack: Stack, queue: ModuleType) -> None:
    stack.upload(KEY, private_photo())
    (notification,) = stack.receive()
    for _ in range(3):  # at-least-once delivery: the same S3 event arrives again, also in one batch
        stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=notification["Body"])
    stack.sqs.change_message_visibility(
        QueueUrl=stack.queue_url, ReceiptHandle=notification["ReceiptHandle"], VisibilityTimeout=0
    )
    stack.drain(queue.handler)
    assert all(d == {"batchItemFailures": []} for d in stack.deliveries)
    versions = stack.output_versions()
    assert versions == [f"anonymised/{KEY}", f"audit/{KEY}.json"], "one write of each, no overwrites"


def test_reprocessing_gives_identical_content_and_tags(stack: Stack, queue: ModuleType) -> None:
    """Should the audit record go missing, processing again yields the same bytes and tags (deterministic)."""
    stack.upload(KEY, private_photo())
    (notification,) = stack.receive()
    body = notification["Body"]
    stack.sqs.change_message_visibility(
        QueueUrl=stack.queue_url, ReceiptHandle=notification["ReceiptHandle"], VisibilityTimeout=0
    )
    stack.drain(queue.handler)
    first_image, first_tags, first_audit = output_state(stack)
    stack.s3.delete_object(Bucket=OUTPUT, Key=f"audit/{KEY}.json")
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
    stack.drain(queue.handler)
    image, tags, audit = output_state(stack)
    assert (image, tags) == (first_image, first_tags)
    assert (audit["faces"], audit["source"]) == (first_audit["faces"], first_audit["source"])


class InvocationKilled(BaseException):
    """Stands for the Lambda runtime ending the invocation (timeout, out of memory): no except runs."""


def test_invocation_killed_between_output_and_audit(stack: Stack, queue: ModuleType, faults: Faults) -> None:
    stack.upload(KEY, base_jpeg())
    calls = {"n": 0}

    def kill_on_audit(params: dict[str, Any], **kwargs: Any) -> None:
        if str(params.get("Key", "")).startswith("audit/") and not calls["n"]:
            calls["n"] += 1
            raise InvocationKilled

    queue.S3.meta.events.register("before-parameter-build.s3.PutObject", kill_on_audit)
    with pytest.raises(InvocationKilled):
        stack.deliver_once(queue.handler)
    assert stack.output_versions() == [f"anonymised/{KEY}"]  # orphan output, no audit: not "done"
    stack.drain(queue.handler)
    assert stack.deliveries[-1] == {"batchItemFailures": []}
    _image, tags, audit = output_state(stack)
    assert tags["status"] == "anonymised"
    assert audit["output"]["key"] == f"anonymised/{KEY}"
    assert stack.dead_letters() == []

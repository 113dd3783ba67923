"""The recursion guard: what the functions write can never trigger them again.

In the template: only the input bucket notifies, only the upload queue (directly, or through UploadEventRule,
which matches only the input bucket's name, when UploadTrigger=EventBridge), and the queue accepts only the
input bucket and that rule; the functions have no S3 or EventBridge triggers of their own. At run time (moto,
notifications applied as in the template): writing the output triggers nothing, and even if the output bucket
were wrongly made to notify, the handler refuses its objects (then the DLQ), so there is no loop.
"""

from types import ModuleType
from typing import Any

import pytest

from hostile.corpus import base_jpeg
from support.aws import INPUT, OUTPUT, Context, s3_record, sqs_record
from support.stack import Stack, template_notifications
from support.template import resources, template, with_defaults

EVENTBRIDGE = {"UploadTrigger": "EventBridge"}


def _flatten(value: Any) -> str:
    return repr(value)


@pytest.mark.parametrize("overrides", [{}, EVENTBRIDGE], ids=["S3Notification", "EventBridge"])
def test_only_the_input_bucket_notifies_and_only_the_upload_queue(overrides: dict[str, str]) -> None:
    notifying = {name: configs for name, configs in template_notifications(overrides).items() if configs}
    assert set(notifying) == (set() if overrides else {"InputBucket"})
    for config in notifying.get("InputBucket", []):
        assert config["Queue"] == {"Fn::GetAtt": ["UploadQueue", "Arn"]}
        assert config["Event"].startswith("s3:ObjectCreated:")
    for name, bucket in resources("AWS::S3::Bucket").items():
        notification = with_defaults(bucket.get("Properties", {}), overrides).get("NotificationConfiguration", {})
        assert not notification.get("LambdaConfigurations"), name
        assert not notification.get("TopicConfigurations"), name
        sends_events = bool(notification.get("EventBridgeConfiguration"))
        assert sends_events == (name == "InputBucket" and bool(overrides)), name


def test_the_upload_event_rule_matches_only_the_input_bucket_and_targets_only_the_queue() -> None:
    rules = resources("AWS::Events::Rule")
    assert set(rules) == {"UploadEventRule"}
    rule = rules["UploadEventRule"]
    assert rule["Condition"] == "UseEventBridgeTrigger"
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    (bucket,) = pattern["detail"]["bucket"]["name"]
    input_name = resources("AWS::S3::Bucket")["InputBucket"]["Properties"]["BucketName"]
    assert bucket == input_name
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Fn::GetAtt": ["UploadQueue", "Arn"]}]


@pytest.mark.parametrize("overrides", [{}, EVENTBRIDGE], ids=["S3Notification", "EventBridge"])
def test_the_upload_queue_accepts_only_the_input_bucket(overrides: dict[str, str]) -> None:
    (policy,) = resources("AWS::SQS::QueuePolicy").values()
    statements = with_defaults(policy["Properties"]["PolicyDocument"]["Statement"], overrides)
    allows = {s["Principal"]["Service"]: s for s in statements if s["Effect"] == "Allow"}
    assert set(allows) == ({"s3.amazonaws.com", "events.amazonaws.com"} if overrides else {"s3.amazonaws.com"})
    source = _flatten(allows["s3.amazonaws.com"]["Condition"]["ArnLike"]["aws:SourceArn"])
    assert "-input-" in source
    assert "output" not in source.lower()
    input_name = _flatten(resources("AWS::S3::Bucket")["InputBucket"]["Properties"]["BucketName"])
    assert input_name.split("-input-")[1] in source  # the same account/region-qualified name
    if overrides:
        rule = allows["events.amazonaws.com"]["Condition"]["ArnEquals"]["aws:SourceArn"]
        assert rule == {"Fn::GetAtt": ["UploadEventRule", "Arn"]}


def test_functions_are_triggered_only_by_the_queue_and_the_api() -> None:
    triggers = []
    for name, function in resources("AWS::Serverless::Function").items():
        for event in function["Properties"].get("Events", {}).values():
            triggers.append((name, event["Type"], _flatten(event["Properties"].get("Queue", ""))))
    assert {kind for _, kind, _ in triggers} <= {"SQS", "Api"}
    assert all("UploadQueue" in queue for _, kind, queue in triggers if kind == "SQS")
    kinds = {res.get("Type") for res in template()["Resources"].values()}
    assert not kinds & {"AWS::Lambda::EventSourceMapping", "AWS::Pipes::Pipe"}
    for rule in resources("AWS::Events::Rule").values():  # rules feed the queue, never a function
        assert all("UploadQueue" in _flatten(t["Arn"]) for t in rule["Properties"]["Targets"])
    for permission in resources("AWS::Lambda::Permission").values():
        assert permission["Properties"].get("Principal") != "s3.amazonaws.com"


def test_writing_the_output_triggers_nothing(stack: Stack, queue: ModuleType) -> None:
    stack.upload("uploads/a.jpg", base_jpeg())
    assert stack.drain(queue.handler) == 1  # one poll processed the upload, then the queue stayed empty
    assert stack.output_versions() == ["anonymised/uploads/a.jpg", "audit/uploads/a.jpg.json"]
    assert stack.receive() == []


def test_a_notifying_output_bucket_still_cannot_loop(stack: Stack, queue: ModuleType) -> None:
    """Misconfiguration: the output bucket notifies the upload queue too. The handler refuses those objects,
    they end in the DLQ after maxReceiveCount tries, and nothing new is written."""
    stack.apply_notifications({"OutputBucket": OUTPUT, "InputBucket": INPUT})
    template_configs = template_notifications()["InputBucket"]
    stack.s3.put_bucket_notification_configuration(
        Bucket=OUTPUT,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": stack.queue_arn, "Events": [c["Event"] for c in template_configs]}]
        },
    )
    stack.purge()
    stack.upload("uploads/a.jpg", base_jpeg())
    stack.drain(queue.handler)
    assert stack.output_versions() == ["anonymised/uploads/a.jpg", "audit/uploads/a.jpg.json"]
    refused = {m["Body"] for m in stack.dead_letters()}
    assert len(refused) == 2
    assert all(OUTPUT in body for body in refused)


@pytest.mark.parametrize("key", ["anonymised/uploads/a.jpg", "audit/uploads/a.jpg.json", "uploads/a.jpg"])
def test_the_handler_refuses_every_key_of_the_output_bucket(stack: Stack, queue: ModuleType, key: str) -> None:
    stack.s3.put_object(Bucket=OUTPUT, Key=key, Body=base_jpeg())
    before = stack.output_versions()
    event = {"Records": [sqs_record({"Records": [s3_record(OUTPUT, key)]}, "loop-1")]}
    response = queue.handler(event, Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "loop-1"}]}
    assert stack.output_versions() == before

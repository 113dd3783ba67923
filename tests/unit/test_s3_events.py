"""s3_events: each shipped sample shape gives the one uploaded object; malformed shapes are refused with a
message that says what was expected; LambdaConfig's review and announcement settings."""

import json
from pathlib import Path
from typing import Any

import pytest

from faceanon.errors import InvalidRequestError
from faceanon_lambda.config import LambdaConfig
from faceanon_lambda.s3_events import is_sqs_batch, parse_body, sources_of_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
BUCKET, KEY = "faceanon-input-example", "uploads/astronaut photo.jpg"
ETAG = json.loads((EVENTS / "s3_put.json").read_text())["Records"][0]["s3"]["object"]["eTag"]


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


@pytest.mark.parametrize("name", ["s3_put.json", "sns_s3_put.json", "eventbridge_s3_object_created.json"])
def test_direct_events(name: str) -> None:
    event = load(name)
    assert not is_sqs_batch(event)
    ((bucket, key, etag),) = [(s.bucket, s.key, s.etag) for s in sources_of_event(event)]
    assert (bucket, key, etag) == (BUCKET, KEY, ETAG)


@pytest.mark.parametrize("name", ["sqs_s3_put.json", "sqs_sns_s3_put.json", "sqs_eventbridge_s3_object_created.json"])
def test_sqs_bodies(name: str) -> None:
    event = load(name)
    assert is_sqs_batch(event)
    ((bucket, key, etag),) = [(s.bucket, s.key, s.etag) for s in parse_body(event["Records"][0]["body"])]
    assert (bucket, key, etag) == (BUCKET, KEY, ETAG)


def test_sam_generated_event_keeps_its_percent_encoded_key() -> None:
    ((source,),) = [sources_of_event(load("s3_put_sam_generated.json"))]
    assert (source.key, source.etag) == (KEY, "0123456789abcdef0123456789abcdef")


def test_eventbridge_version_and_moto_spelling() -> None:
    event = load("eventbridge_s3_object_created.json")
    obj = event["detail"]["object"]
    obj["version-id"] = "v1"
    obj["eTag"] = obj.pop("etag")  # moto's spelling
    ((source,),) = [sources_of_event(event)]
    assert (source.version_id, source.etag) == ("v1", ETAG)


def sns_body(message: str) -> str:
    envelope = json.loads(load("sqs_sns_s3_put.json")["Records"][0]["body"])
    envelope["Message"] = message
    return json.dumps(envelope)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "SQS message body is not JSON"),
        ("[1]", "SQS message body is not a JSON object"),
        ('{"hello": 1}', "SQS message body has no S3 Records"),
        (sns_body("plain text"), "SNS Message is not JSON"),
        (sns_body('{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "k"}}}]}'), "no bucket"),
        (
            sns_body('{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}]}'),
            "no object key",
        ),
        (json.dumps({"source": "aws.s3", "detail-type": "Object Created"}), "EventBridge event has no detail"),
    ],
)
def test_malformed_bodies_are_refused(body: str, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        parse_body(body)


def test_non_create_events_name_no_objects() -> None:
    deleted = load("eventbridge_s3_object_created.json") | {"detail-type": "Object Deleted"}
    assert sources_of_event(deleted) == []
    removal = load("s3_put.json")
    removal["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert sources_of_event(removal) == []
    assert parse_body(load("sqs_s3_test_event.json")["Records"][0]["body"]) == []


def test_config_review_and_announcements_from_env() -> None:
    config = LambdaConfig.from_env({"REVIEW_HOLD": "true", "REVIEW_PREFIX": "held/", "EVENT_BUS_NAME": "default"})
    assert (config.review_hold, config.review_key("a.jpg"), config.event_bus) == (True, "held/a.jpg", "default")
    assert LambdaConfig.from_env({}).review_hold is False
    assert LambdaConfig.from_env({"REVIEW_HOLD": "false"}).review_hold is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REVIEW_HOLD": "maybe"}, "REVIEW_HOLD must be true or false"),
        ({"REVIEW_PREFIX": "anonymised/review/"}, "OUTPUT_PREFIX and REVIEW_PREFIX must not overlap"),
        ({"REVIEW_PREFIX": "audit/"}, "AUDIT_PREFIX and REVIEW_PREFIX must not overlap"),
        ({"REVIEW_PREFIX": ""}, "must not overlap|must not be empty"),
    ],
)
def test_config_refuses_bad_review_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        LambdaConfig.from_env(env)

"""X-Ray traces keep no image bytes and no object keys.

Each handler runs as a traced Lambda invocation: Powertools' own Tracer, enabled as in Lambda, with a provider
that records every subsegment, annotation, metadata entry and exception in place of the X-Ray SDK, and the
environment template.yaml gives that function. Everything recorded is then searched for the photo's bytes (raw
and base64) and for its object keys.
"""

import base64
import json
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from aws_lambda_powertools import Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment
from moto import mock_aws

from faceanon import service
from faceanon.errors import UnsupportedImageError
from faceanon.settings import Settings
from faceanon_tools.lambda_invoke import function_spec
from support.aws import INPUT, OUTPUT, REGION, Context, sqs_event
from support.handlers import load_handler
from support.results import make_result

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
KEY = "uploads/private/jane doe at home.jpg"  # what must not reach a trace
FAILING_KEY = "uploads/private/not a photo.jpg"  # parked by the upload path, a PermanentFailure in the backfill
MISSING_KEY = "uploads/private/gone before it was read.jpg"  # never stored: the upload record fails and retries
PHOTO = b"PIXELS-of-jane-doe"
ANONYMISED = b"ANON:" + PHOTO


@dataclass
class Recording:
    subsegments: list[str] = field(default_factory=list)
    annotations: list[tuple[str, Any]] = field(default_factory=list)
    metadata: list[tuple[str, Any]] = field(default_factory=list)
    exceptions: list[BaseException] = field(default_factory=list)

    def text(self) -> str:
        """Everything recorded as one string, values as X-Ray would serialise them (JSON, else repr)."""
        values = [*self.annotations, *self.metadata, *((type(e).__name__, str(e)) for e in self.exceptions)]
        return "\n".join(json.dumps(value, default=repr) for value in values)


class RecordingSegment(BaseSegment):
    def __init__(self, recording: Recording) -> None:
        self.recording = recording

    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: Any) -> None:
        self.recording.annotations.append((key, value))

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.recording.metadata.append((key, value))

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        self.recording.exceptions.append(exception)


class RecordingProvider(BaseProvider):
    """The X-Ray recorder's part that Powertools calls; like the SDK, a subsegment records what it raised."""

    def __init__(self) -> None:
        self.recording = Recording()

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        self.recording.subsegments.append(str(name))
        segment = RecordingSegment(self.recording)
        try:
            yield segment
        except Exception as exc:
            segment.add_exception(exc, [])
            raise

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncGenerator[BaseSegment, None]:
        self.recording.subsegments.append(str(name))
        yield RecordingSegment(self.recording)

    def put_annotation(self, key: str, value: Any) -> None:
        self.recording.annotations.append((key, value))

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.recording.metadata.append((key, value))

    def patch(self, modules: Any) -> None:
        pass

    def patch_all(self) -> None:
        pass


def fake_anonymise(data: bytes, settings: Settings, detector: Any = None) -> Any:
    if not data.startswith(b"PIXELS"):
        raise UnsupportedImageError("not an image faceanon can decode")
    return make_result(image=b"ANON:" + data)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> RecordingProvider:
    """Powertools' Tracer switched on as in Lambda, recording into a fresh provider (restored afterwards)."""
    recording = RecordingProvider()
    monkeypatch.setattr(Tracer, "_config", {**Tracer._default_config, "provider": recording})
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.setattr(service, "get_detector", lambda settings: "fake-detector")
    monkeypatch.setattr(service, "anonymise", fake_anonymise)
    return recording


def lambda_environment(monkeypatch: pytest.MonkeyPatch, function: str) -> None:
    """The function's variables from template.yaml (Globals + its own), plus what only a deployment knows."""
    spec = function_spec(ROOT / "template.yaml", function)
    for name, value in spec.environment.items():
        monkeypatch.setenv(name, value)
    for name, value in {
        "OUTPUT_BUCKET": OUTPUT,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_DEV": "false",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in (INPUT, OUTPUT):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        client.put_object(Bucket=INPUT, Key=KEY, Body=PHOTO)
        client.put_object(Bucket=INPUT, Key=FAILING_KEY, Body=b"TEXT")
        yield client


FORBIDDEN = (
    *(KEY, FAILING_KEY, MISSING_KEY, quote_plus(KEY), quote_plus(FAILING_KEY), quote_plus(MISSING_KEY)),
    *(PHOTO.decode(), ANONYMISED.decode(), base64.b64encode(ANONYMISED).decode()),
)


def leaks(recording: Recording) -> list[str]:
    """The object keys and image contents found anywhere in what the trace recorded."""
    text = recording.text()
    return [secret for secret in FORBIDDEN if secret in text]


def assert_no_private_data(recording: Recording, handler_subsegment: str) -> None:
    assert handler_subsegment in recording.subsegments  # the invocation was traced at all
    assert not [key for key, _ in recording.metadata if key.endswith(" response")]
    assert leaks(recording) == []


def test_upload_function_trace_has_no_keys_or_pixels(
    provider: RecordingProvider, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_environment(monkeypatch, "AnonymiseUploadFunction")
    queue = load_handler("faceanon_lambda.queue_handler")
    response = queue.handler(sqs_event(KEY, FAILING_KEY, MISSING_KEY), Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-2"}]}
    assert s3.get_object(Bucket=OUTPUT, Key=f"audit/{FAILING_KEY}.json")["Body"].read().count(b'"rejected"') == 1
    assert s3.get_object(Bucket=OUTPUT, Key=f"anonymised/{KEY}")["Body"].read() == ANONYMISED
    assert "## faceanon_lambda.queue_handler.record_handler" in provider.recording.subsegments
    assert ("Service", "faceanon-upload") in provider.recording.annotations
    assert_no_private_data(provider.recording, "## handler")


def test_upload_handler_alone_keeps_no_response(
    provider: RecordingProvider, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the template's POWERTOOLS_TRACER_CAPTURE_RESPONSE=false, the decorator itself still refuses."""
    lambda_environment(monkeypatch, "AnonymiseUploadFunction")
    monkeypatch.delenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE")
    queue = load_handler("faceanon_lambda.queue_handler")
    queue.handler(sqs_event(KEY), Context())
    assert_no_private_data(provider.recording, "## handler")


@pytest.mark.parametrize("template_env", [True, False], ids=["template-env", "decorator-only"])
def test_backfill_function_trace_has_no_keys_or_pixels(
    provider: RecordingProvider, s3: Any, monkeypatch: pytest.MonkeyPatch, template_env: bool
) -> None:
    lambda_environment(monkeypatch, "BackfillFunction")
    if not template_env:
        monkeypatch.delenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE")
    event = json.loads((EVENTS / "s3_batch_operations.json").read_text())
    event["tasks"] = [{**event["tasks"][0], "s3Bucket": INPUT, "s3Key": quote_plus(key)} for key in (KEY, FAILING_KEY)]
    batch = load_handler("faceanon_lambda.batch_handler")
    response = batch.handler(event, Context())
    results = [result["resultCode"] for result in response["results"]]
    assert results == ["Succeeded", "PermanentFailure"]
    assert KEY in json.dumps(response)  # the answer names the output key; the trace must not
    assert_no_private_data(provider.recording, "## handler")


def test_api_function_trace_has_no_pixels(provider: RecordingProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API handler's decorator is the default one: the template's environment alone keeps the image out."""
    lambda_environment(monkeypatch, "AnonymiseApiFunction")
    event = json.loads((EVENTS / "api_json.json").read_text())
    event["body"] = json.dumps({"image": base64.b64encode(PHOTO).decode()})
    api = load_handler("faceanon_lambda.api_handler")
    response = api.handler(event, Context())
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["image"] == base64.b64encode(ANONYMISED).decode()
    assert_no_private_data(provider.recording, "## handler")


def test_the_search_finds_a_captured_response(provider: RecordingProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a handler that lets Powertools capture its response puts the key in the trace."""
    monkeypatch.delenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE", raising=False)
    tracer = Tracer(service="faceanon-test")

    @tracer.capture_lambda_handler
    def leaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"output": KEY}

    leaky({}, Context())
    assert [key for key, _ in provider.recording.metadata] == ["leaky response"]
    assert leaks(provider.recording) == [KEY]


@pytest.mark.parametrize("function", ["AnonymiseUploadFunction", "AnonymiseApiFunction", "BackfillFunction"])
def test_every_function_turns_response_capture_off(function: str) -> None:
    environment = function_spec(ROOT / "template.yaml", function).environment
    assert environment["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"

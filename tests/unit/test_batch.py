"""S3 Batch Operations path (faceanon_lambda.batch): schema-2.0 parsing, userArguments, result codes, and one
task end to end on moto with the real service around a fake detector (red squares are "faces")."""

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws
from PIL import Image

from faceanon import errors, service
from faceanon.settings import Settings
from faceanon_lambda.batch import (
    INTERNAL_ERROR,
    RESULT_STRING_MAX,
    BatchTask,
    SourceChangedError,
    anonymise_task,
    answer,
    classify,
    job_settings,
    parse_task,
)
from faceanon_lambda.config import LambdaConfig
from support.fakes import FakeDetector
from support.images import marked, to_bytes

EVENTS = Path(__file__).resolve().parents[2] / "events"
INPUT, OUTPUT = "faceanon-input-example", "faceanon-output-example"
FACE = (20, 16, 44, 40)  # the red "face" of the synthetic photos


def shipped_event() -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "s3_batch_operations.json").read_text())
    return event


def client_error(code: str, status: int, operation: str = "GetObject") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("encoded", "key"),
    [
        ("uploads/astronaut+photo.jpg", "uploads/astronaut photo.jpg"),
        ("a%2Bb.jpg", "a+b.jpg"),
        ("archive/caf%C3%A9+portrait%2B1.jpg", "archive/café portrait+1.jpg"),
        ("100%25/x%3Fy%26z.jpg", "100%/x?y&z.jpg"),
        ("plain/key.jpg", "plain/key.jpg"),
    ],
)
def test_task_keys_are_url_decoded(encoded: str, key: str) -> None:
    task = parse_task({"taskId": "t", "s3Bucket": "b", "s3Key": encoded, "s3VersionId": None})
    assert task == BatchTask("t", "b", key, None)


@pytest.mark.parametrize(
    ("raw", "version"),
    [(None, None), ("", None), ("3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")],
)
def test_task_version_id_is_kept_verbatim(raw: str | None, version: str | None) -> None:
    assert parse_task({"taskId": "t", "s3Bucket": "b", "s3Key": "k", "s3VersionId": raw}).version_id == version


@pytest.mark.parametrize(
    "raw",
    [
        "not a task",
        {"s3Bucket": "b", "s3Key": "k"},
        {"taskId": "t", "s3Key": "k"},
        {"taskId": "t", "s3Bucket": "b", "s3Key": ""},
        {"taskId": "t", "s3BucketArn": "arn:aws:s3:::b", "s3Key": "k"},  # schema 1.0 task
        {"taskId": "t", "s3Bucket": "b", "s3Key": "k", "s3VersionId": 7},
    ],
)
def test_malformed_tasks_are_rejected(raw: Any) -> None:
    with pytest.raises(errors.InvalidRequestError):
        parse_task(raw)


def test_user_arguments_override_the_environment_settings() -> None:
    base = Settings(method="blur", fill="#ffffff", mask_scale=1.1)
    changed = job_settings(base, {"method": "pixelate", "shape": "box", "mask_scale": " 1.5 ", "threshold": "0.35"})
    assert (changed.method, changed.shape, changed.mask_scale, changed.threshold) == ("pixelate", "box", 1.5, 0.35)
    assert changed.fill == "#ffffff"  # not a job argument: stays the function's
    assert job_settings(base, None) is base
    assert job_settings(base, {}) == base


@pytest.mark.parametrize(
    ("arguments", "message_part"),
    [
        ({"colour": "red"}, "unknown userArgument colour"),
        ({"max_pixels": "1"}, "unknown userArgument max_pixels"),
        ({"mask_scale": "big"}, "mask_scale must be a number"),
        ({"threshold": "2"}, "threshold must be in"),
        ({"method": "smudge"}, "method must be one of"),
        (["method", "fill"], "not an object"),
    ],
)
def test_bad_user_arguments(arguments: Any, message_part: str) -> None:
    with pytest.raises(errors.InvalidRequestError, match=message_part):
        job_settings(Settings(), arguments)


# ---------------------------------------------------------------- result codes


@pytest.mark.parametrize(
    ("exc", "code", "message_part"),
    [
        (client_error("SlowDown", 503), "TemporaryFailure", "S3 SlowDown"),
        (client_error("RequestTimeout", 400), "TemporaryFailure", "S3 RequestTimeout"),
        (client_error("ServiceUnavailable", 503), "TemporaryFailure", "ServiceUnavailable"),
        (client_error("InternalError", 500), "TemporaryFailure", "InternalError"),
        (client_error("Throttling", 400), "TemporaryFailure", "Throttling"),
        (client_error("SomethingNew", 502), "TemporaryFailure", "SomethingNew"),
        (client_error("503", 503, "HeadObject"), "TemporaryFailure", "S3 503"),
        (ReadTimeoutError(endpoint_url="https://s3"), "TemporaryFailure", "ReadTimeoutError"),
        (ConnectTimeoutError(endpoint_url="https://s3"), "TemporaryFailure", "ConnectTimeoutError"),
        (EndpointConnectionError(endpoint_url="https://s3"), "TemporaryFailure", "EndpointConnectionError"),
        (errors.ModelError("model file not found: /opt/secret.onnx"), "TemporaryFailure", "model error"),
        (SourceChangedError("a.jpg"), "TemporaryFailure", "object changed during the task"),
        (client_error("NoSuchKey", 404), "PermanentFailure", "S3 NoSuchKey"),
        (client_error("NoSuchVersion", 404), "PermanentFailure", "S3 NoSuchVersion"),
        (client_error("404", 404, "HeadObject"), "PermanentFailure", "S3 NotFound"),
        (client_error("403", 403, "HeadObject"), "PermanentFailure", "S3 AccessDenied"),
        (client_error("AccessDenied", 403), "PermanentFailure", "S3 AccessDenied"),
        (client_error("InvalidObjectState", 403), "PermanentFailure", "InvalidObjectState"),
        (errors.UnsupportedImageError("not an image faceanon can decode"), "PermanentFailure", "not an image"),
        (errors.PayloadTooLargeError("object is 9 bytes; the limit is 4"), "PermanentFailure", "PayloadTooLarge"),
        (errors.ImageTooLargeError("image has 60000000 pixels"), "PermanentFailure", "ImageTooLargeError"),
        (RuntimeError("boom at 0xdeadbeef"), "PermanentFailure", INTERNAL_ERROR),
    ],
)
def test_classify(exc: BaseException, code: str, message_part: str) -> None:
    result_code, message = classify(exc)
    assert (result_code, message_part in message) == (code, True)
    assert "secret" not in message
    assert "0xdeadbeef" not in message


def _run_by_key(task: BatchTask, settings: Settings) -> str:
    """A stand-in for anonymise_task: the key says what happens."""
    failures: dict[str, BaseException] = {
        "uploads/missing photo.jpg": client_error("404", 404, "HeadObject"),
        "slow.jpg": client_error("SlowDown", 503),
    }
    if task.key in failures:
        raise failures[task.key]
    return f"anonymised {task.key} with {settings.method}/{settings.mask_scale}"


def test_answer_has_one_result_per_task_in_order() -> None:
    event = shipped_event()
    response, results = answer(event, settings=Settings(), run=_run_by_key)
    assert response["invocationSchemaVersion"] == "2.0"
    assert response["treatMissingKeysAs"] == "PermanentFailure"
    assert response["invocationId"] == event["invocationId"]
    assert [r["taskId"] for r in response["results"]] == [t["taskId"] for t in event["tasks"]]
    assert [r["resultCode"] for r in response["results"]] == ["Succeeded", "Succeeded", "PermanentFailure"]
    assert response["results"][0]["resultString"] == "anonymised uploads/astronaut photo.jpg with fill/1.5"
    assert response["results"][1]["resultString"] == "anonymised archive/2019/café portrait+1.jpg with fill/1.5"
    assert response["results"][2]["resultString"] == "S3 NotFound"
    assert [r.code for r in results] == [r["resultCode"] for r in response["results"]]
    json.dumps(response)  # what Lambda will serialise


def test_answer_applies_user_arguments() -> None:
    event = shipped_event()
    event["job"]["userArguments"] = {"method": "blur", "mask_scale": "2"}
    response, _ = answer(event, settings=Settings(), run=_run_by_key)
    assert response["results"][0]["resultString"].endswith("with blur/2.0")


@pytest.mark.parametrize(
    ("change", "message_part"),
    [
        ({"invocationSchemaVersion": "1.0"}, "invocationSchemaVersion 1.0 unsupported"),
        ({"job": {"id": "j", "userArguments": {"threshold": "0"}}}, "bad userArguments: threshold must be in"),
        ({"job": {"id": "j", "userArguments": {"size": "1"}}}, "bad userArguments: unknown userArgument size"),
    ],
)
def test_job_level_errors_fail_every_task_permanently(change: dict[str, Any], message_part: str) -> None:
    event = {**shipped_event(), **change}
    calls: list[BatchTask] = []
    response, _ = answer(event, settings=Settings(), run=lambda task, settings: calls.append(task) or "")
    assert {r["resultCode"] for r in response["results"]} == {"PermanentFailure"}
    assert all(message_part in r["resultString"] for r in response["results"])
    assert calls == []
    assert response["invocationSchemaVersion"] == event["invocationSchemaVersion"]


def test_answer_mixes_codes_and_survives_malformed_tasks() -> None:
    event = shipped_event()
    event["tasks"] = [
        {"taskId": "a", "s3Bucket": "b", "s3Key": "slow.jpg", "s3VersionId": None},
        {"taskId": "b", "s3Bucket": "b"},
        "garbage",
        {"taskId": "c", "s3Bucket": "b", "s3Key": "ok.jpg", "s3VersionId": None},
    ]
    response, _ = answer(event, settings=Settings(), run=_run_by_key)
    codes = [(r["taskId"], r["resultCode"]) for r in response["results"]]
    assert codes == [
        ("a", "TemporaryFailure"),
        ("b", "PermanentFailure"),
        ("task-2", "PermanentFailure"),
        ("c", "Succeeded"),
    ]


def test_result_strings_are_short() -> None:
    event = shipped_event()
    event["tasks"] = [{"taskId": "t", "s3Bucket": "b", "s3Key": "k" * 1000 + ".jpg", "s3VersionId": None}]
    response, _ = answer(event, settings=Settings(), run=_run_by_key)
    assert len(response["results"][0]["resultString"]) == RESULT_STRING_MAX
    assert response["results"][0]["resultString"].endswith("...")


@pytest.mark.parametrize("event", [{}, {"tasks": []}, {"invocationId": "i"}, {"invocationId": "i", "tasks": {}}, []])
def test_not_a_batch_invocation_raises(event: Any) -> None:
    with pytest.raises(errors.InvalidRequestError):
        answer(event, settings=Settings(), run=_run_by_key)


# ---------------------------------------------------------------- one task on moto


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        for bucket in (INPUT, OUTPUT):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        client.put_bucket_versioning(Bucket=INPUT, VersioningConfiguration={"Status": "Enabled"})
        yield client


def photo(colour_shift: int = 0) -> bytes:
    rgb = marked(64, 56, FACE)
    rgb[0:4, 0:4] = colour_shift  # tells versions apart without moving the face
    return to_bytes(Image.fromarray(rgb), "PNG")


def run_task(s3: Any, task: BatchTask, detector: FakeDetector, settings: Settings | None = None) -> str:
    return anonymise_task(
        task,
        s3=s3,
        config=LambdaConfig(output_bucket=OUTPUT),
        settings=settings or Settings(),
        anonymise=lambda data, settings: service.anonymise(data, settings, detector=detector),
        request_id="req-batch",
    )


def test_task_writes_masked_output_tags_and_audit_then_skips_a_rerun(s3: Any, fake_detector: FakeDetector) -> None:
    key = "old photos/café+1.png"
    etag = s3.put_object(Bucket=INPUT, Key=key, Body=photo())["ETag"].strip('"')
    message = run_task(s3, BatchTask("t", INPUT, key, None), fake_detector, Settings(method="fill", fill="#00ff00"))
    assert message == f"anonymised: 1 faces -> anonymised/{key}"
    out = s3.get_object(Bucket=OUTPUT, Key=f"anonymised/{key}")
    assert out["ContentType"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(out["Body"].read())).convert("RGB"))
    cx, cy = (FACE[0] + FACE[2]) // 2, (FACE[1] + FACE[3]) // 2
    assert tuple(pixels[cy, cx]) == (0, 255, 0)  # the face is filled
    assert tuple(pixels[50, 60]) != (0, 255, 0)  # the background is not
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=OUTPUT, Key=f"anonymised/{key}")["TagSet"]}
    assert tags == {
        "faces": "1",
        "method": "fill",
        "shape": "ellipse",
        "model": "fake-model",
        "status": "anonymised",
        "review": "false",
        "source-etag": etag,
    }
    audit = json.loads(s3.get_object(Bucket=OUTPUT, Key=f"audit/{key}.json")["Body"].read())
    version = s3.head_object(Bucket=INPUT, Key=key)["VersionId"]  # the version read, though the task named none
    assert audit["source"] == {"bucket": INPUT, "key": key, "version_id": version, "etag": etag, "size": len(photo())}
    assert (audit["request_id"], audit["face_count"], audit["method"]) == ("req-batch", 1, "fill")
    # A second run of the job (same object, same ETag) does no work.
    calls = len(fake_detector.calls)
    assert run_task(s3, BatchTask("t", INPUT, key, None), fake_detector).startswith("skipped: already anonymised")
    assert len(fake_detector.calls) == calls


def test_task_reads_the_version_the_manifest_names(s3: Any, fake_detector: FakeDetector) -> None:
    first = s3.put_object(Bucket=INPUT, Key="a.png", Body=photo(0))
    s3.put_object(Bucket=INPUT, Key="a.png", Body=photo(255))
    run_task(s3, BatchTask("t", INPUT, "a.png", first["VersionId"]), fake_detector)
    audit = json.loads(s3.get_object(Bucket=OUTPUT, Key="audit/a.png.json")["Body"].read())
    assert audit["source"]["version_id"] == first["VersionId"]
    assert audit["source"]["etag"] == first["ETag"].strip('"')
    out = s3.get_object(Bucket=OUTPUT, Key="anonymised/a.png")["Body"].read()
    assert tuple(np.asarray(Image.open(io.BytesIO(out)).convert("RGB"))[1, 1]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("key", "version", "body", "expected"),
    [
        ("missing.png", None, None, ("PermanentFailure", "S3 NotFound")),
        ("a.png", "nosuchversionxxxxxxxxxxxxxxxxxxxx", photo(), ("PermanentFailure", "S3 NotFound")),
        ("notes.txt", None, b"just some text, not a photo", ("PermanentFailure", "UnsupportedImageError: ")),
    ],
)
def test_task_failures_write_nothing(
    s3: Any, fake_detector: FakeDetector, key: str, version: str | None, body: bytes | None, expected: tuple[str, str]
) -> None:
    if body is not None:
        s3.put_object(Bucket=INPUT, Key=key, Body=body)
    with pytest.raises(Exception) as caught:
        run_task(s3, BatchTask("t", INPUT, key, version), fake_detector)
    code, message = classify(caught.value)
    assert (code, message[: len(expected[1])]) == expected
    assert s3.list_objects_v2(Bucket=OUTPUT).get("KeyCount") == 0


class OverwrittenBeforeGet:
    """An S3 client on which the source is overwritten right after the task's first HEAD (a concurrent upload)."""

    def __init__(self, client: Any, new_body: bytes) -> None:
        self._client, self._new_body, self.overwritten = client, new_body, False

    def head_object(self, **kwargs: Any) -> Any:
        head = self._client.head_object(**kwargs)
        if not self.overwritten:
            self._client.put_object(Bucket=kwargs["Bucket"], Key=kwargs["Key"], Body=self._new_body)
            self.overwritten = True
        return head

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_object_overwritten_during_the_task_is_anonymised_not_skipped(s3: Any, fake_detector: FakeDetector) -> None:
    s3.put_bucket_versioning(Bucket=INPUT, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=INPUT, Key="a.png", Body=photo(0))
    racing = OverwrittenBeforeGet(s3, photo(255))
    # The GET sees a newer ETag than the HEAD: the object as it is now is anonymised (never skipped).
    assert run_task(racing, BatchTask("t", INPUT, "a.png", None), fake_detector).startswith("anonymised: 1 faces")
    audit = json.loads(s3.get_object(Bucket=OUTPUT, Key="audit/a.png.json")["Body"].read())
    assert audit["source"]["etag"] == s3.head_object(Bucket=INPUT, Key="a.png")["ETag"].strip('"')
    out = s3.get_object(Bucket=OUTPUT, Key="anonymised/a.png")["Body"].read()
    assert tuple(np.asarray(Image.open(io.BytesIO(out)).convert("RGB"))[1, 1]) == (255, 255, 255)


def test_review_hold_applies_to_backfills_too(s3: Any) -> None:
    s3.put_object(Bucket=INPUT, Key="a.png", Body=photo())
    message = anonymise_task(
        BatchTask("t", INPUT, "a.png", None),
        s3=s3,
        config=LambdaConfig(output_bucket=OUTPUT, review_hold=True),
        settings=Settings(),
        anonymise=lambda data, settings: service.anonymise(data, settings, detector=FakeDetector(score=0.3)),
    )
    assert message == "anonymised: 1 faces, needs review -> review/a.png"
    audit = json.loads(s3.get_object(Bucket=OUTPUT, Key="audit/a.png.json")["Body"].read())
    assert (audit["status"], audit["output"]["key"]) == ("held_for_review", "review/a.png")
    assert "anonymised/a.png" not in {o["Key"] for o in s3.list_objects_v2(Bucket=OUTPUT)["Contents"]}

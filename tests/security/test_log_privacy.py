"""Logs never hold image bytes, base64 bodies or EXIF values.

A real API run (JSON and raw bodies, a good and a corrupt photo) and a real queue run (a good and a corrupt
upload) go through the template's handlers, with a photo carrying EXIF GPS, camera serial, artist and a
60 KB maker note. Everything they log is captured: the Powertools logger with its JSON formatter, the root
logger (what the Lambda runtime ships for other libraries), and stdout/stderr (metrics, prints).
"""

import base64
import io
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hostile.corpus import EXIF_SECRETS, GPS_LATITUDE, binary_event, json_event, private_photo
from support.aws import INPUT, REGION, Context, create_buckets, object_keys, sqs_event, use_detector
from support.fakes import BoxDetector
from support.template import template_handler

PHOTO = private_photo((200, 150))
CORRUPT = PHOTO[: len(PHOTO) - 3000]  # all of the EXIF, a cut-off scan: decodes to an error


class Capture:
    def __init__(self, level: str) -> None:
        self.stream = io.StringIO()
        self.level = getattr(logging, level)
        self.handlers: list[tuple[logging.Logger, logging.Handler]] = []

    def attach(self) -> None:
        powertools = logging.getLogger("faceanon")
        formatter = next((h.formatter for h in powertools.handlers if h.formatter), None)
        for logger in (powertools, logging.getLogger()):
            handler = logging.StreamHandler(self.stream)
            handler.setFormatter(formatter or logging.Formatter("%(name)s %(levelname)s %(message)s"))
            handler.setLevel(self.level)
            logger.addHandler(handler)
            self.handlers.append((logger, handler))
        logging.getLogger().setLevel(self.level)

    def detach(self) -> None:
        for logger, handler in self.handlers:
            logger.removeHandler(handler)


@pytest.fixture(params=["INFO", "DEBUG"])
def capture(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    """Logs at the deployed level (INFO) and at DEBUG (what an operator turns on to investigate)."""
    use_detector(monkeypatch, BoxDetector())
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", request.param)
    monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", request.param)
    root_level = logging.getLogger().level
    captured = Capture(request.param)
    yield captured
    captured.detach()
    logging.getLogger().setLevel(root_level)


def fragments(data: bytes) -> list[str]:
    """Pieces of the image as they could appear in a log: base64 (both alignments), latin-1, repr, hex."""
    encoded = base64.b64encode(data).decode()
    shifted = base64.b64encode(data[1:]).decode()
    pieces = [text[i : i + 24] for text in (encoded, shifted) for i in range(0, len(text) - 24, len(text) // 40)]
    for start in range(0, len(data) - 16, len(data) // 20):
        chunk = data[start : start + 12]
        pieces += [chunk.decode("latin-1"), repr(chunk)[2:-1], chunk.hex()]
    return [p for p in pieces if len(p.strip()) >= 12]


def secrets() -> list[str]:
    values = list(EXIF_SECRETS.values())
    values += [str(GPS_LATITUDE[2]), "56/1", "Jane Q"]
    return values


def assert_private(text: str, images: list[bytes]) -> None:
    assert text.strip(), "nothing was captured: the test would prove nothing"
    leaked = [s for s in secrets() if s in text]
    assert not leaked, f"EXIF values in the logs: {leaked}"
    for image in images:
        found = [p for p in fragments(image) if p in text]
        assert not found, f"image bytes or base64 in the logs: {found[:3]}"


def run_api(capture: Capture) -> tuple[str, list[bytes]]:
    _, handler = template_handler("Api")
    capture.attach()
    outputs = []
    for event in (
        json_event({"image": base64.b64encode(PHOTO).decode(), "return_boxes": True}),
        binary_event(PHOTO),
        json_event({"image": base64.b64encode(CORRUPT).decode()}),
        binary_event(CORRUPT),
    ):
        response = handler(event, Context())
        assert response["statusCode"] in (200, 415), response["body"][:200]
        if response["statusCode"] == 200:
            outputs.append(response["body"])
    assert len(outputs) == 2
    return capture.stream.getvalue(), [PHOTO, CORRUPT]


def test_api_logs_are_private(capture: Capture, capfd: pytest.CaptureFixture[str]) -> None:
    logged, images = run_api(capture)
    out, err = capfd.readouterr()
    assert_private(logged + out + err, images)


def test_queue_logs_are_private(capture: Capture, capfd: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        s3: Any = boto3.client("s3", region_name=REGION)
        create_buckets(s3)
        s3.put_object(Bucket=INPUT, Key="uploads/good.jpg", Body=PHOTO)
        s3.put_object(Bucket=INPUT, Key="uploads/corrupt.jpg", Body=CORRUPT)
        _, handler = template_handler("SQS")
        capture.attach()
        # good: anonymised; corrupt: parked with a rejection record; missing: fails (the exception is logged)
        response = handler(sqs_event("uploads/good.jpg", "uploads/corrupt.jpg", "uploads/missing.jpg"), Context())
        assert response == {"batchItemFailures": [{"itemIdentifier": "msg-2"}]}
        assert object_keys(s3) == [
            "anonymised/uploads/good.jpg",
            "audit/uploads/corrupt.jpg.json",
            "audit/uploads/good.jpg.json",
        ]
        output = s3.get_object(Bucket="faceanon-output-hostile", Key="anonymised/uploads/good.jpg")["Body"].read()
    out, err = capfd.readouterr()
    assert_private(capture.stream.getvalue() + out + err, [PHOTO, CORRUPT, output])


def test_the_check_finds_a_leak() -> None:
    """assert_private must fail on a log line that holds a base64 piece or an EXIF value."""
    with pytest.raises(AssertionError):
        assert_private('{"message": "body", "image": "' + base64.b64encode(PHOTO).decode()[:4000] + '"}', [PHOTO])
    with pytest.raises(AssertionError):
        assert_private(f"camera {EXIF_SECRETS['serial']}", [PHOTO])
    with pytest.raises(AssertionError):
        assert_private(repr(PHOTO[2000:2400]), [PHOTO])

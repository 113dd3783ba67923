"""What the hostile, fault and log tests share: handlers found through template.yaml, a detector that returns
arbitrary boxes, moto buckets, SQS events, and guards against hangs and memory blow-ups.

The handlers run for real (Powertools, the real faceanon.service.anonymise and decode/encode); only the
detector is replaced, unless a test passes the real one.
"""

import contextlib
import functools
import importlib
import json
import resource
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any
from urllib.parse import quote_plus

import numpy as np
import numpy.typing as npt
import pytest

from faceanon import service
from faceanon_tools.lambda_context import LocalContext
from faceanon_tools.template import load_template

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
REGION = "eu-west-1"
INPUT, OUTPUT = "faceanon-input-hostile", "faceanon-output-hostile"
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "OUTPUT_BUCKET": OUTPUT,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "faceanon",
    "POWERTOOLS_METRICS_NAMESPACE": "FaceAnon",
    "POWERTOOLS_DEV": "false",
}


def template() -> dict[str, Any]:
    """template.yaml through faceanon_tools' reader, the one ``faceanon serve`` / ``invoke`` use (tags in long form)."""
    return load_template(TEMPLATE)


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template()["Resources"].items() if res.get("Type") == kind}


def handler_of(event_type: str) -> tuple[str, str]:
    """(module, function) of the one serverless function with an event source of event_type (Api, SQS...)."""
    found = [
        res["Properties"]["Handler"]
        for res in resources("AWS::Serverless::Function").values()
        if any(e.get("Type") == event_type for e in res["Properties"].get("Events", {}).values())
    ]
    assert len(found) == 1, f"expected one function with a {event_type} event, found {found}"
    module, _, function = found[0].rpartition(".")
    return module, function


def code_dir() -> Path:
    """The Globals CodeUri: the directory Lambda puts on sys.path for the handlers."""
    return REPO / template()["Globals"]["Function"]["CodeUri"]


def fresh_module(module: str) -> ModuleType:
    """Import a handler module anew (config, clients and the detector are built at import, as in a cold start)."""
    code = str(code_dir())
    if code not in sys.path:
        sys.path.insert(0, code)
    package = module.split(".")[0]
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]
    return importlib.import_module(module)


def template_handler(event_type: str) -> tuple[ModuleType, Callable[[dict[str, Any], Any], dict[str, Any]]]:
    module_name, function = handler_of(event_type)
    module = fresh_module(module_name)
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(module, function)
    return module, handler


class BoxDetector:
    """Returns arbitrary boxes for any frame (fractions of its size), so masks run on every hostile image."""

    model_sha256 = "box-detector"

    def __init__(self, boxes: npt.ArrayLike = ((0.25, 0.25, 0.75, 0.75, 0.9),)) -> None:
        self.fractions = np.asarray(boxes, dtype=np.float32).reshape(-1, 5)
        self.calls = 0

    def detect(
        self, rgb: npt.NDArray[np.uint8], *, threshold: float | None, detection: str = "default"
    ) -> npt.NDArray[np.float32]:
        self.calls += 1
        height, width = rgb.shape[:2]
        boxes = self.fractions.copy()
        boxes[:, [0, 2]] *= width
        boxes[:, [1, 3]] *= height
        return boxes


Context = functools.partial(LocalContext, function_name="faceanon-hostile", aws_request_id="req-hostile")


def use_detector(monkeypatch: pytest.MonkeyPatch, detector: object) -> None:
    """Make the handlers (which call service.get_detector at import) use this detector; set the Lambda env."""
    monkeypatch.setattr(service, "get_detector", lambda settings: detector)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def create_buckets(s3: Any) -> None:
    for bucket in (INPUT, OUTPUT):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})


def s3_record(bucket: str, key: str, etag: str = "", size: int = 0) -> dict[str, Any]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key), "eTag": etag, "size": size},
        },
    }


def sqs_record(body: dict[str, Any], message_id: str, receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1700000000000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:faceanon-uploads",
        "awsRegion": REGION,
    }


def sqs_event(*keys: str, bucket: str = INPUT) -> dict[str, Any]:
    """One SQS record (one S3 notification) per key."""
    return {"Records": [sqs_record({"Records": [s3_record(bucket, k)]}, f"msg-{i}") for i, k in enumerate(keys)]}


def object_keys(s3: Any, bucket: str = OUTPUT) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class HangError(Exception):
    pass


@contextlib.contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Raise HangError if the block runs longer than seconds (a guard against hangs, not a speed check)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise HangError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

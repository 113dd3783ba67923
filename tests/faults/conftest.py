"""Fixtures of the fault tests: the moto stack, the queue handler of template.yaml, its faults."""

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from faults.faults import Faults
from support.aws import REGION, use_detector
from support.fakes import BoxDetector
from support.stack import Stack
from support.template import template_handler


@pytest.fixture
def detector() -> Any:
    return BoxDetector()


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, detector: Any) -> Iterator[Stack]:
    use_detector(monkeypatch, detector)
    with mock_aws():
        yield Stack.create(boto3.client("s3", region_name=REGION), boto3.client("sqs", region_name=REGION))


@pytest.fixture
def queue(stack: Stack) -> ModuleType:
    """The template's SQS handler module, imported fresh inside the mock (its S3 client is moto's)."""
    module, _ = template_handler("SQS")
    return module


@pytest.fixture
def faults(queue: ModuleType) -> Iterator[Faults]:
    injected = Faults(queue.S3)
    yield injected
    assert all(rule.hits for rule in injected.rules), "an injected fault never fired"

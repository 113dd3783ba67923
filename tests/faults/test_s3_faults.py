"""S3 failures and timeouts, and detector failures, on the queue path: the record is reported failed (so
SQS retries it, then dead-letters it) and nothing is left in the output bucket, not even a deleted version."""

from types import ModuleType
from typing import Any

import numpy as np
import pytest

from faceanon.errors import ModelError
from faults.faults import ERRORS, STREAM_ERRORS, Faults
from hostile.corpus import base_jpeg
from support.aws import INPUT, OUTPUT
from support.stack import Stack

KEY = "uploads/photo 1.jpg"


def test_no_fault_gives_output(stack: Stack, queue: ModuleType) -> None:
    """The baseline the fault tests differ from (so they cannot pass by never writing anything)."""
    stack.upload(KEY, base_jpeg())
    stack.drain(queue.handler)
    assert stack.deliveries == [{"batchItemFailures": []}]
    assert stack.output_versions() == [f"anonymised/{KEY}", f"audit/{KEY}.json"]


def _fails_closed(stack: Stack, queue: ModuleType) -> None:
    stack.deliver_once(queue.handler)
    assert len(stack.deliveries[-1]["batchItemFailures"]) == 1
    assert stack.output_versions() == []


@pytest.mark.parametrize("error", sorted(ERRORS))
def test_reading_the_upload_fails(stack: Stack, queue: ModuleType, faults: Faults, error: str) -> None:
    stack.upload(KEY, base_jpeg())
    faults.add("GetObject", error, bucket=INPUT)
    _fails_closed(stack, queue)


@pytest.mark.parametrize("error", sorted(STREAM_ERRORS))
def test_the_upload_stream_breaks(stack: Stack, queue: ModuleType, faults: Faults, error: str) -> None:
    stack.upload(KEY, base_jpeg())
    faults.add("GetObject", error, bucket=INPUT)
    _fails_closed(stack, queue)


@pytest.mark.parametrize("error", ["internal_error", "read_timeout", "access_denied"])
def test_the_idempotency_lookup_fails(stack: Stack, queue: ModuleType, faults: Faults, error: str) -> None:
    stack.upload(KEY, base_jpeg())
    faults.add("GetObject", error, bucket=OUTPUT)
    _fails_closed(stack, queue)


@pytest.mark.parametrize("error", ["internal_error", "slow_down", "read_timeout", "connect_timeout"])
def test_writing_the_output_fails(stack: Stack, queue: ModuleType, faults: Faults, error: str) -> None:
    stack.upload(KEY, base_jpeg())
    faults.add("PutObject", error, bucket=OUTPUT, key_prefix="anonymised/")
    _fails_closed(stack, queue)


@pytest.mark.parametrize("error", ["access_denied", "internal_error"])
def test_tagging_the_output_fails(stack: Stack, queue: ModuleType, faults: Faults, error: str) -> None:
    """A put with tags refused (e.g. s3:PutObjectTagging missing from the role) writes nothing."""
    stack.upload(KEY, base_jpeg())
    faults.add("PutObject", error, bucket=OUTPUT, tagged=True)
    _fails_closed(stack, queue)


@pytest.mark.parametrize("error", ["internal_error", "read_timeout"])
def test_writing_the_audit_record_fails(stack: Stack, queue: ModuleType, faults: Faults, error: str) -> None:
    """The output is rolled back (its version deleted), so no output exists without its audit record."""
    stack.upload(KEY, base_jpeg())
    faults.add("PutObject", error, bucket=OUTPUT, key_prefix="audit/")
    _fails_closed(stack, queue)


def test_audit_and_rollback_both_fail_then_the_retry_repairs(stack: Stack, queue: ModuleType, faults: Faults) -> None:
    """Worst case: an anonymised output without audit record is left; the retry (no audit = not done) redoes it."""
    stack.upload(KEY, base_jpeg())
    faults.add("PutObject", "internal_error", bucket=OUTPUT, key_prefix="audit/", times=1)
    faults.add("DeleteObject", "internal_error", bucket=OUTPUT, times=1)
    stack.deliver_once(queue.handler)
    assert len(stack.deliveries[-1]["batchItemFailures"]) == 1
    stack.drain(queue.handler)
    assert stack.deliveries[-1] == {"batchItemFailures": []}
    assert stack.s3.get_object(Bucket=OUTPUT, Key=f"audit/{KEY}.json")["ContentLength"] > 0
    assert stack.dead_letters() == []


class BrokenDetector:
    model_sha256 = "broken"

    def __init__(self, error: Exception | None = None, boxes: Any = None) -> None:
        self.error, self.boxes = error, boxes

    def detect(self, rgb: Any, *, threshold: float | None, detection: str = "default") -> Any:
        if self.error is not None:
            raise self.error
        return self.boxes


@pytest.mark.parametrize(
    "detector",
    [
        BrokenDetector(RuntimeError("onnxruntime: bad allocation")),
        BrokenDetector(ModelError("detector inference failed")),
        BrokenDetector(MemoryError()),
        BrokenDetector(boxes=np.asarray([[1.0, 2.0, np.nan, 4.0, 0.9]], np.float32)),  # malformed output
        BrokenDetector(boxes=np.asarray([[1.0, 2.0]], np.float32)),
    ],
    ids=["runtime_error", "model_error", "memory_error", "nan_box", "short_rows"],
)
def test_detector_fails(stack: Stack, queue: ModuleType, detector: BrokenDetector) -> None:
    stack.upload(KEY, base_jpeg())
    _fails_closed(stack, queue)

"""Lambda entry point for uploads (``faceanon_lambda.queue_handler.handler``): every S3 event shape.

An SQS batch (S3, SNS or EventBridge messages) is processed record by record with partial batch failures;
a direct event (S3 notification, SNS, EventBridge) is processed as a whole and raises on failure, so Lambda's
asynchronous retries apply. Bad images are parked with a rejection record (the record succeeds); transient
failures raise. See ``s3_events`` for the shapes and ``s3_pipeline`` for what happens to each object.
"""

import os
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from faceanon import service
from faceanon.settings import Settings
from faceanon.video_segments import is_video_key

from .announce import announce
from .audit import REJECTED, SourceObject
from .observability import CONFIG, logger, metrics, tracer
from .s3_events import is_sqs_batch, parse_body, sources_of_event
from .s3_pipeline import Outcome, anonymise_object
from .video_start import VIDEO_STARTED, start_video

SETTINGS = Settings.from_env()
DETECTOR = service.get_detector(SETTINGS)  # model load happens in the init phase, once per process
S3 = boto3.client("s3")
EVENTS = boto3.client("events")
# Videos go to the video state machine (VideoStateMachine in template.yaml); unset: the photo path rejects them.
VIDEO_STATE_MACHINE_ARN = os.environ.get("VIDEO_STATE_MACHINE_ARN", "")
SFN = boto3.client("stepfunctions") if VIDEO_STATE_MACHINE_ARN else None
# Every failed record is reported (also when all fail), so SQS retries exactly those and then dead-letters them.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _anonymise(data: bytes, settings: Settings) -> service.AnonymiseResult:
    return service.anonymise(data, settings, detector=DETECTOR)


def _count(outcome: Outcome) -> None:
    if outcome.status == "duplicate":
        metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=1)
    elif outcome.status == REJECTED:
        metrics.add_metric(name="ImagesRejected", unit=MetricUnit.Count, value=1)
    elif outcome.status == VIDEO_STARTED:
        metrics.add_metric(name="VideosStarted", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="ImagesAnonymised", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="FacesFound", unit=MetricUnit.Count, value=outcome.faces)
        metrics.add_metric(name="ReviewFlagged", unit=MetricUnit.Count, value=int(outcome.review))
        metrics.add_metric(name="Duration", unit=MetricUnit.Milliseconds, value=outcome.duration_ms)


def _announce(outcome: Outcome) -> None:
    try:
        announce(EVENTS, outcome, bus=CONFIG.event_bus, output_bucket=CONFIG.output_bucket)
    except Exception as exc:  # noqa: BLE001 - the result is committed; only the notification is lost
        metrics.add_metric(name="AnnounceFailures", unit=MetricUnit.Count, value=1)
        logger.warning("announcement failed", key=outcome.source.key, error=type(exc).__name__, detail=str(exc))


def _process(sources: list[SourceObject], request_id: str) -> list[Outcome]:
    outcomes = []
    for source in sources:
        if SFN is not None and is_video_key(source.key):
            outcome = start_video(SFN, VIDEO_STATE_MACHINE_ARN, source, request_id)
        else:
            outcome = anonymise_object(
                source,
                s3=S3,
                config=CONFIG,
                settings=SETTINGS,
                anonymise=_anonymise,
                request_id=request_id,
                park_rejections=True,
            )
        fields = {"key": source.key, "status": outcome.status, "faces": outcome.faces, "reason": outcome.reason}
        if outcome.warning:
            logger.warning(f"object processed: {outcome.warning}", extra=fields)
        else:
            logger.info("object processed", extra=fields)
        _count(outcome)
        _announce(outcome)
        outcomes.append(outcome)
    return outcomes


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    """One SQS message (one S3 notification). Raises on any failure so the record is retried."""
    try:
        _process(parse_body(record.body), record.message_id)
    except Exception:
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
        logger.exception("record failed", message_id=record.message_id)
        raise


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_sqs_batch(event):
        return dict(process_partial_response(event, record_handler, processor, context))
    try:
        outcomes = _process(sources_of_event(event), context.aws_request_id)
    except Exception:
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
        logger.exception("event failed")
        raise
    return {"results": [{"key": o.source.key, "status": o.status, "output_key": o.output_key} for o in outcomes]}

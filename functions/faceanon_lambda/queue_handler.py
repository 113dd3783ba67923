"""Lambda entry point for the S3 -> SQS -> Lambda path (``faceanon_lambda.queue_handler.handler``)."""

from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from faceanon import service
from faceanon.settings import Settings

from .observability import CONFIG, logger, metrics, tracer
from .s3_pipeline import anonymise_object, parse_message

SETTINGS = Settings.from_env()
DETECTOR = service.get_detector(SETTINGS)  # model load happens in the init phase, once per process
S3 = boto3.client("s3")
# Every failed record is reported (also when all fail), so SQS retries exactly those and then dead-letters them.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _anonymise(data: bytes, settings: Settings) -> service.AnonymiseResult:
    return service.anonymise(data, settings, detector=DETECTOR)


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    """One SQS message (one S3 notification). Raises on any failure so the record is retried."""
    try:
        for source in parse_message(record.json_body):
            outcome = anonymise_object(
                source, s3=S3, config=CONFIG, settings=SETTINGS, anonymise=_anonymise, request_id=record.message_id
            )
            logger.info("object processed", key=source.key, status=outcome.status, faces=outcome.faces)
            if outcome.status == "duplicate":
                metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=1)
            else:
                metrics.add_metric(name="ImagesAnonymised", unit=MetricUnit.Count, value=1)
                metrics.add_metric(name="FacesFound", unit=MetricUnit.Count, value=outcome.faces)
                metrics.add_metric(name="ReviewFlagged", unit=MetricUnit.Count, value=int(outcome.review))
                metrics.add_metric(name="Duration", unit=MetricUnit.Milliseconds, value=outcome.duration_ms)
    except Exception:
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
        logger.exception("record failed", message_id=record.message_id)
        raise


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event, record_handler, processor, context))

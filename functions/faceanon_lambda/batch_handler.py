"""Lambda entry point for S3 Batch Operations jobs (``faceanon_lambda.batch_handler.handler``).

Backfills an existing bucket: each task's object is anonymised exactly like an upload (see ``batch``).
"""

from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config  # type: ignore[import-untyped]

from faceanon import service
from faceanon.settings import Settings

from .batch import INTERNAL_ERROR, BatchTask, anonymise_task, answer
from .observability import CONFIG, logger, metrics, tracer

SETTINGS = Settings.from_env()
DETECTOR = service.get_detector(SETTINGS)  # model load happens in the init phase, once per process
# botocore retries throttling and 5xx a few times itself; what still fails becomes a TemporaryFailure.
S3 = boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 4}, read_timeout=60))
_METRIC = {
    "Succeeded": "BatchSucceeded",
    "TemporaryFailure": "BatchTemporaryFailures",
    "PermanentFailure": "BatchPermanentFailures",
}


def _anonymise(data: bytes, settings: Settings) -> service.AnonymiseResult:
    result = service.anonymise(data, settings, detector=DETECTOR)
    metrics.add_metric(name="ImagesAnonymised", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="FacesFound", unit=MetricUnit.Count, value=result.face_count)
    metrics.add_metric(name="ReviewFlagged", unit=MetricUnit.Count, value=int(result.review))
    return result


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def run(task: BatchTask, settings: Settings) -> str:
        return anonymise_task(
            task, s3=S3, config=CONFIG, settings=settings, anonymise=_anonymise, request_id=context.aws_request_id
        )

    response, results = answer(event, settings=SETTINGS, run=run)
    job = event.get("job")
    job_id = job.get("id") if isinstance(job, dict) else None
    for result in results:
        metrics.add_metric(name=_METRIC[result.code], unit=MetricUnit.Count, value=1)
        fields = {"job_id": job_id, "task_id": result.task_id, "result": result.code, "detail": result.message}
        if result.message == INTERNAL_ERROR:
            # Unexpected (a bug): keep the traceback here, the completion report only says "internal error".
            logger.error("batch task failed", exc_info=result.error, extra=fields)
        else:
            logger.info("batch task done", extra=fields)
    return response

"""Lambda entry point of the API (``faceanon_lambda.api_handler.handler``) for REST, HTTP API, Function URL
and ALB events alike; the routes are in api_app."""

import time
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config  # type: ignore[import-untyped]

from faceanon import detect_service, service
from faceanon.settings import Settings

from .api_app import ApiDeps, build_apps, resolve
from .api_config import ApiConfig
from .observability import CONFIG, logger, metrics, tracer

SETTINGS = Settings.from_env()
DETECTOR = service.get_detector(SETTINGS)  # model load happens in the init phase, once per process


def _anonymise(data: bytes, settings: Settings) -> service.AnonymiseResult:
    started = time.perf_counter()
    result = service.anonymise(data, settings, detector=DETECTOR)
    metrics.add_metric(name="ImagesAnonymised", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="FacesFound", unit=MetricUnit.Count, value=result.face_count)
    metrics.add_metric(name="ReviewFlagged", unit=MetricUnit.Count, value=int(result.review))
    metrics.add_metric(name="Duration", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000)
    return result


def _detect(data: bytes, settings: Settings) -> detect_service.DetectResult:
    result = detect_service.detect(data, settings, detector=DETECTOR)
    metrics.add_metric(name="ImagesDetected", unit=MetricUnit.Count, value=1)
    return result


def _on_error(exc: Exception, status: int) -> None:
    if status < 500:
        metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1)
        logger.info("request rejected", error=type(exc).__name__, reason=str(exc), status=status)
    else:
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
        logger.exception("request failed")


APPS = build_apps(
    ApiDeps(
        settings=SETTINGS,
        config=CONFIG,
        api_config=ApiConfig.from_env(),
        anonymise=_anonymise,
        detect=_detect,
        # SigV4: presigned POSTs and URLs for buckets in any region (SigV2 is refused there).
        s3=boto3.client("s3", config=Config(signature_version="s3v4")),
        on_error=_on_error,
    )
)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)  # responses carry (base64) images: never in X-Ray
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(APPS, event, context)

"""Lambda entry point for ``POST /anonymise`` (``faceanon_lambda.api_handler.handler``)."""

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from faceanon import service
from faceanon.errors import FaceAnonError, ModelError
from faceanon.settings import Settings

from .api import anonymise_request, error_response
from .observability import CONFIG, logger, metrics, tracer

SETTINGS = Settings.from_env()
DETECTOR = service.get_detector(SETTINGS)  # model load happens in the init phase, once per process


def _anonymise(data: bytes, settings: Settings) -> service.AnonymiseResult:
    started = time.perf_counter()
    result = service.anonymise(data, settings, detector=DETECTOR)
    duration_ms = (time.perf_counter() - started) * 1000
    metrics.add_metric(name="ImagesAnonymised", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="FacesFound", unit=MetricUnit.Count, value=result.face_count)
    metrics.add_metric(name="ReviewFlagged", unit=MetricUnit.Count, value=int(result.review))
    metrics.add_metric(name="Duration", unit=MetricUnit.Milliseconds, value=duration_ms)
    return result


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return anonymise_request(event, config=CONFIG, settings=SETTINGS, anonymise=_anonymise)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a mapped response, never a traceback
        if isinstance(exc, FaceAnonError) and not isinstance(exc, ModelError):
            metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1)
            logger.info("request rejected", error=type(exc).__name__, reason=str(exc))
        else:
            metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
            logger.exception("request failed")
        return error_response(exc)

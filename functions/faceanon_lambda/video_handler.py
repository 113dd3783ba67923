"""Lambda entry point of the video state machine's steps (``faceanon_lambda.video_handler.handler``).

Step Functions calls it with ``{"step": "plan" | "segment" | "join", ...}`` (statemachine/video.asl.json);
``video_pipeline`` and ``video_join`` do the work. Rejections are returned (the state machine records them and
succeeds); anything else raises so the state's Retry applies.
"""

from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from faceanon import service
from faceanon.errors import InvalidRequestError
from faceanon.settings import Settings
from faceanon.video import anonymise_video

from .observability import CONFIG, logger, metrics, tracer
from .video_config import VideoConfig
from .video_join import join_step
from .video_pipeline import plan_step, segment_step

SETTINGS = Settings.from_env()
VIDEO = VideoConfig.from_env()
DETECTOR = service.get_detector(SETTINGS)  # model load in the init phase, once per process
S3 = boto3.client("s3")


def anonymise_segment(src: Path, dst: Path) -> dict[str, Any]:
    return anonymise_video(src, dst, SETTINGS, detector=DETECTOR, every=VIDEO.detect_every).to_report()


def _run(event: dict[str, Any], request_id: str) -> dict[str, Any]:
    step = event.get("step")
    if step == "plan":
        return plan_step(event, s3=S3, config=CONFIG, video=VIDEO, request_id=request_id)
    if step == "segment":
        return segment_step(event, s3=S3, video=VIDEO, anonymise_segment=anonymise_segment)
    if step == "join":
        return join_step(event, s3=S3, config=CONFIG, video=VIDEO, settings=SETTINGS)
    raise InvalidRequestError("step must be plan, segment or join")


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = str(event.get("step", ""))
    result = _run(event, context.aws_request_id)
    status = str(result.get("status", ""))
    key = (event.get("source") or {}).get("key", "")
    logger.info("video step done", extra={"step": step, "status": status, "key": key})
    if status == "rejected":
        metrics.add_metric(name="VideosRejected", unit=MetricUnit.Count, value=1)
    elif step == "plan":
        metrics.add_metric(name="VideosPlanned", unit=MetricUnit.Count, value=1)
    elif step == "join":
        metrics.add_metric(name="VideosAnonymised", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="VideoFrames", unit=MetricUnit.Count, value=int(result.get("frames", 0)))
    elif step == "segment":
        metrics.add_metric(name="VideoSegments", unit=MetricUnit.Count, value=1)
    return result

"""The upload path's hand-off of videos: a video key starts the video state machine instead of the photo path.

The execution is named after the source version (``video_pipeline.job_id``), so the same notification
delivered twice starts one execution (Step Functions refuses a second with that name); the plan step
then checks the audit record like the photo path does.
"""

import json
from dataclasses import asdict
from typing import Any

from .audit import SourceObject
from .s3_pipeline import Outcome
from .video_pipeline import job_id

VIDEO_STARTED = "video_started"


def start_video(sfn: Any, state_machine_arn: str, source: SourceObject, request_id: str) -> Outcome:
    """StartExecution for this upload; a second start of the same upload is a duplicate, not an error."""
    name = job_id(source)
    payload = {"source": asdict(source), "request_id": request_id}
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))
    except sfn.exceptions.ExecutionAlreadyExists:
        return Outcome(source, "duplicate", "")
    return Outcome(source, VIDEO_STARTED, "")

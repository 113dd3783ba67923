"""A stand-in for the Lambda context object, for running handlers outside Lambda (serve, tests, benchmarks)."""

import time
import uuid
from dataclasses import dataclass, field

REGION = "eu-west-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class LocalContext:
    """The parts of Lambda's context object that the handlers and Powertools read."""

    function_name: str = "faceanon-local"
    memory_limit_in_mb: int = 2048
    timeout_s: int = 60
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_stream_name: str = "local"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))

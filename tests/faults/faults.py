"""Fault injection into a real boto3 client (the handler's own), through botocore's event hooks."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

ENDPOINT = "https://s3.eu-west-1.amazonaws.com"


def client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


ERRORS: dict[str, Callable[[str], Exception]] = {
    "internal_error": lambda op: client_error("InternalError", 500, op),
    "slow_down": lambda op: client_error("SlowDown", 503, op),
    "access_denied": lambda op: client_error("AccessDenied", 403, op),
    "read_timeout": lambda op: ReadTimeoutError(endpoint_url=ENDPOINT),
    "connect_timeout": lambda op: ConnectTimeoutError(endpoint_url=ENDPOINT),
    "endpoint_unreachable": lambda op: EndpointConnectionError(endpoint_url=ENDPOINT),
}
STREAM_ERRORS: dict[str, Callable[[], Exception]] = {
    "body_read_timeout": lambda: ReadTimeoutError(endpoint_url=ENDPOINT),
    "body_incomplete": lambda: IncompleteReadError(actual_bytes=10, expected_bytes=1000),
    "body_reset": lambda: ResponseStreamingError(error="connection reset by peer"),
}


class _BrokenBody:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, *args: Any) -> bytes:
        raise self.error

    def close(self) -> None:
        pass


@dataclass
class Rule:
    operation: str
    make: Callable[[], Exception]
    matches: Callable[[dict[str, Any]], bool]
    times: int | None  # None: every call
    stream: bool = False
    hits: int = 0

    def fire(self, params: dict[str, Any]) -> bool:
        if not self.matches(params) or (self.times is not None and self.hits >= self.times):
            return False
        self.hits += 1
        return True


class Faults:
    """Make calls of one client fail: ``faults.add("GetObject", "read_timeout", bucket=..., times=1)``."""

    def __init__(self, client: Any) -> None:
        self.rules: list[Rule] = []
        events = client.meta.events
        events.register("before-parameter-build.s3.*", self._before)
        events.register("after-call.s3.GetObject", self._after_get)

    def add(
        self,
        operation: str,
        error: str,
        *,
        bucket: str | None = None,
        key_prefix: str = "",
        tagged: bool | None = None,
        times: int | None = None,
    ) -> Rule:
        def matches(params: dict[str, Any]) -> bool:
            return (
                (bucket is None or params.get("Bucket") == bucket)
                and str(params.get("Key", "")).startswith(key_prefix)
                and (tagged is None or ("Tagging" in params) == tagged)
            )

        stream = error in STREAM_ERRORS
        make = STREAM_ERRORS[error] if stream else (lambda: ERRORS[error](operation))
        rule = Rule(operation, make, matches, times, stream)
        self.rules.append(rule)
        return rule

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **kwargs: Any) -> None:
        context["fault_params"] = dict(params)
        for rule in self.rules:
            if rule.operation == model.name and not rule.stream and rule.fire(params):
                raise rule.make()

    def _after_get(self, parsed: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        params = context.get("fault_params", {})
        for rule in self.rules:
            if rule.operation == "GetObject" and rule.stream and "Body" in parsed and rule.fire(params):
                parsed["Body"] = _BrokenBody(rule.make())

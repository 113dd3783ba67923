"""The S3 Batch Operations path: invocation (schema 2.0) -> one anonymised object per task -> result codes.

S3 Batch Operations invokes the function synchronously with ``{"invocationSchemaVersion": "2.0",
"invocationId", "job": {"id", "userArguments"}, "tasks": [{"taskId", "s3Bucket", "s3Key", "s3VersionId"}]}``
and expects one result per task: ``Succeeded``, ``TemporaryFailure`` (Batch Operations retries the task) or
``PermanentFailure`` (reported in the completion report, never retried). Keys arrive URL-encoded (``+`` for a
space), as in S3 event notifications.

Each task goes through exactly the upload path's ``s3_pipeline.anonymise_object`` (same service, output key,
tags and audit record). A HEAD first gives the source's ETag, so a re-run of a job skips every object whose
audit record already names that ETag (and version), and a missing key fails before any work.

Result codes:

* ``TemporaryFailure``: S3 throttling / 5xx / timeouts, connection errors, an object overwritten while its
  task ran, and ``ModelError`` (a broken or missing model is an operator problem fixed by redeploying;
  retrying loses nothing);
* ``PermanentFailure``: a missing key/version/bucket, access denied, not an image, over the byte or pixel
  limits, bad ``userArguments``, and any unexpected error (a bug would otherwise be retried forever; the job's
  failure threshold stops it instead).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    ConnectionError,
    HTTPClientError,
)

from faceanon.errors import FaceAnonError, InvalidRequestError, ModelError
from faceanon.service import Anonymise
from faceanon.settings import REQUEST_OPTIONS, Settings

from .config import LambdaConfig
from .s3_pipeline import SourceObject, anonymise_object

SCHEMA_VERSION = "2.0"
ResultCode = Literal["Succeeded", "TemporaryFailure", "PermanentFailure"]
INTERNAL_ERROR = "internal error (see the function's logs)"
RESULT_STRING_MAX = 200  # the completion report's ResultMessage column; keep it short

# userArguments (a string -> string map) are the request options every entry point shares; Settings parses
# and validates them (the API's query parameters and the CLI flags are the same names).
USER_ARGUMENTS: Mapping[str, type] = REQUEST_OPTIONS
# S3 error codes worth retrying: throttling, timeouts and server-side failures.
TEMPORARY_S3_CODES = frozenset(
    {
        "SlowDown",
        "RequestTimeout",
        "ServiceUnavailable",
        "InternalError",
        "Throttling",
        "ThrottlingException",
        "TooManyRequests",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "OperationAborted",
    }
)
# HEAD has no body, so S3 answers it with the bare status code instead of an error code.
_HEAD_CODES = {"404": "NotFound", "403": "AccessDenied", "400": "BadRequest"}


class SourceChangedError(Exception):
    """The object was overwritten while its task ran (HEAD and GET saw different ETags): retry the task."""


@dataclass(frozen=True)
class BatchTask:
    task_id: str
    bucket: str
    key: str  # unquote_plus'ed
    version_id: str | None


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    code: ResultCode
    message: str
    error: BaseException | None = None  # for the function's log; never sent back

    def to_dict(self) -> dict[str, str]:
        return {"taskId": self.task_id, "resultCode": self.code, "resultString": _short(self.message)}


# ---------------------------------------------------------------- parsing


def _require_str(mapping: Mapping[str, Any], name: str, where: str) -> str:
    value = mapping.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"{where} has no {name}")
    return value


def parse_task(raw: Any) -> BatchTask:
    """One schema-2.0 task; the key is URL-decoded (``+`` is a space), the version id kept as given."""
    if not isinstance(raw, dict):
        raise InvalidRequestError("task is not an object")
    version = raw.get("s3VersionId")
    if version is not None and not isinstance(version, str):
        raise InvalidRequestError("task s3VersionId is not a string")
    return BatchTask(
        task_id=_require_str(raw, "taskId", "task"),
        bucket=_require_str(raw, "s3Bucket", "task"),
        key=unquote_plus(_require_str(raw, "s3Key", "task")),
        version_id=version or None,
    )


def job_settings(base: Settings, user_arguments: Any) -> Settings:
    """The job's settings: ``base`` (the function's environment) with the job's userArguments applied."""
    if user_arguments is None:
        return base
    if not isinstance(user_arguments, dict):
        raise InvalidRequestError("userArguments is not an object")
    return base.with_options({name: str(raw) for name, raw in user_arguments.items()}, what="userArgument")


# ---------------------------------------------------------------- classification


def _client_error_code(exc: ClientError) -> tuple[str, int]:
    error = exc.response.get("Error", {})
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(error.get("Code") or status or "Unknown")
    return _HEAD_CODES.get(code, code), status


def classify(exc: BaseException) -> tuple[ResultCode, str]:
    """(result code, short result string) for an exception raised while processing one task."""
    if isinstance(exc, ClientError):
        code, status = _client_error_code(exc)
        temporary = code in TEMPORARY_S3_CODES or status >= 500 or status == 429
        return ("TemporaryFailure" if temporary else "PermanentFailure"), f"S3 {code}"
    if isinstance(exc, ConnectionError | HTTPClientError):  # connect/read timeouts, endpoint unreachable
        return "TemporaryFailure", f"S3 connection: {type(exc).__name__}"
    if isinstance(exc, SourceChangedError):
        return "TemporaryFailure", "object changed during the task; retrying reads the new version"
    if isinstance(exc, ModelError):
        return "TemporaryFailure", "model error; retry after fixing the deployment"
    if isinstance(exc, FaceAnonError):  # not an image, too many bytes or pixels, bad arguments
        return "PermanentFailure", f"{type(exc).__name__}: {exc}"
    return "PermanentFailure", INTERNAL_ERROR


def _short(message: str) -> str:
    flat = " ".join(message.split())
    return flat if len(flat) <= RESULT_STRING_MAX else flat[: RESULT_STRING_MAX - 3] + "..."


# ---------------------------------------------------------------- processing


def anonymise_task(
    task: BatchTask,
    *,
    s3: Any,
    config: LambdaConfig,
    settings: Settings,
    anonymise: Anonymise,
    request_id: str = "",
) -> str:
    """Anonymise one task's object like an upload; the Succeeded result string. Raises on any failure."""
    extra = {"VersionId": task.version_id} if task.version_id else {}
    head = s3.head_object(Bucket=task.bucket, Key=task.key, **extra)
    source = SourceObject(
        bucket=task.bucket,
        key=task.key,
        etag=_etag(head),
        version_id=task.version_id,
        size=head.get("ContentLength"),
    )
    outcome = anonymise_object(
        source, s3=s3, config=config, settings=settings, anonymise=anonymise, request_id=request_id
    )
    if outcome.status == "duplicate":
        # When the GET saw another ETag than the HEAD (overwritten in between, unversioned keys only),
        # anonymise_object processes the newer object, or answers "duplicate" when that one is already done;
        # the task then runs again (SourceChangedError) and its next HEAD sees the newer ETag.
        if not task.version_id and _etag(s3.head_object(Bucket=task.bucket, Key=task.key)) != source.etag:
            raise SourceChangedError(task.key)
        return "skipped: already anonymised (audit record matches this ETag)"
    review = ", needs review" if outcome.review else ""
    return f"anonymised: {outcome.faces} faces{review} -> {outcome.output_key}"


def _etag(head: Mapping[str, Any]) -> str:
    return str(head.get("ETag", "")).strip('"')


TaskRunner = Callable[[BatchTask, Settings], str]


def answer(event: Any, *, settings: Settings, run: TaskRunner) -> tuple[dict[str, Any], list[TaskResult]]:
    """The response S3 Batch Operations expects, and the per-task results (for logs and metrics).

    Only an event without ``invocationId``/``tasks`` raises (no valid answer exists); everything else becomes
    a per-task result, so one bad task never fails its neighbours.
    """
    if not isinstance(event, dict) or not isinstance(event.get("invocationId"), str):
        raise InvalidRequestError("not an S3 Batch Operations invocation (no invocationId)")
    raw_tasks = event.get("tasks")
    if not isinstance(raw_tasks, list):
        raise InvalidRequestError("S3 Batch Operations invocation has no tasks")
    version = event.get("invocationSchemaVersion")
    job = event.get("job")
    job = job if isinstance(job, dict) else {}
    job_error: str | None = None
    job_settings_: Settings = settings
    if version != SCHEMA_VERSION:
        job_error = f"invocationSchemaVersion {version} unsupported; create the job with 2.0"
    else:
        try:
            job_settings_ = job_settings(settings, job.get("userArguments"))
        except InvalidRequestError as exc:
            job_error = f"bad userArguments: {exc}"
    results = []
    for number, raw in enumerate(raw_tasks):
        task_id = raw.get("taskId") if isinstance(raw, dict) else None
        task_id = task_id if isinstance(task_id, str) else f"task-{number}"
        if job_error is not None:
            results.append(TaskResult(task_id, "PermanentFailure", job_error))
            continue
        try:
            task = parse_task(raw)
            results.append(TaskResult(task_id, "Succeeded", run(task, job_settings_)))
        except Exception as exc:  # noqa: BLE001 - every failure becomes this task's result code
            code, message = classify(exc)
            results.append(TaskResult(task_id, code, message, exc))
    response = {
        "invocationSchemaVersion": version if isinstance(version, str) else SCHEMA_VERSION,
        "treatMissingKeysAs": "PermanentFailure",
        "invocationId": event["invocationId"],
        "results": [result.to_dict() for result in results],
    }
    return response, results

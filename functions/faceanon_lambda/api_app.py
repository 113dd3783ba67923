"""The API as one Powertools event-handler app, served by REST (v1), HTTP API (2.0), Function URLs and ALB.

The routes are registered once per resolver kind (``build_app``); ``resolve`` picks the resolver that reads
the event's shape, so the same routes, validation, error mapping and binary responses serve every front door.
Powertools does the routing, the base64 of binary responses, CORS and ALB's ``multiValueHeaders`` answers.

Routes: ``POST /anonymise`` (image in, anonymised image out), ``POST /detect`` (image in, faces out: no mask,
no encode), ``POST /jobs`` (presigned upload for big photos) and ``GET /jobs/<job_id>`` (status, result URL).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import (
    ALBResolver,
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    CORSConfig,
    LambdaFunctionUrlResolver,
    Response,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from faceanon.detect_service import DetectResult
from faceanon.errors import InvalidRequestError
from faceanon.service import Anonymise
from faceanon.settings import Settings

from . import api_openapi as docs
from .api import (
    JSON,
    NOT_FOUND,
    anonymised_response,
    content_type,
    error_body,
    json_object,
    json_response,
    parse_request,
    raw_body,
)
from .api_config import ApiConfig
from .api_jobs import JobsDisabledError, create_job, job_status
from .config import LambdaConfig

Detect = Callable[[bytes, Settings], DetectResult]
RESOLVERS: dict[str, Callable[..., ApiGatewayResolver]] = {
    "rest": APIGatewayRestResolver,
    "http": APIGatewayHttpResolver,
    "function_url": LambdaFunctionUrlResolver,
    # ALB passes query strings as the client sent them (percent-encoded); API Gateway decodes them.
    "alb": lambda **kwargs: ALBResolver(decode_query_parameters=True, **kwargs),
}
EXPOSED_HEADERS = ["X-Faces-Count", "X-Review", "X-Model-Sha256"]


@dataclass(frozen=True)
class ApiDeps:
    """What the routes use, built once per process by api_handler (fakes in tests)."""

    settings: Settings
    config: LambdaConfig
    api_config: ApiConfig
    anonymise: Anonymise
    detect: Detect
    s3: Any
    on_error: Callable[[Exception, int], None]  # logging and metrics of a failed request


def event_kind(event: dict[str, Any]) -> str:
    """Which front door sent the event: "alb", "function_url", "http" (payload 2.0) or "rest" (1.0)."""
    context = event.get("requestContext") or {}
    if "elb" in context:
        return "alb"
    if event.get("version") == "2.0":
        return "function_url" if ".lambda-url." in str(context.get("domainName", "")) else "http"
    return "rest"


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=list(origins[1:]),
        allow_headers=["Content-Type", "X-Api-Key"],
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )


def build_app(kind: str, deps: ApiDeps) -> ApiGatewayResolver:
    # debug=False whatever POWERTOOLS_DEV says: Powertools' debug mode prints every event (image bytes) and
    # answers exceptions with their traceback.
    app = RESOLVERS[kind](cors=cors_config(deps.api_config.cors_origins), debug=False)

    @app.post("/anonymise", summary=docs.ANONYMISE_SUMMARY, description=docs.ANONYMISE, responses=docs.ANONYMISED)
    def anonymise() -> Response[Any]:
        request = parse_request(app.current_event, deps.settings, deps.config.api_max_bytes)
        return anonymised_response(deps.anonymise(request.image, request.settings), request)

    @app.post("/detect", summary=docs.DETECT_SUMMARY, description=docs.DETECT, responses=docs.DETECTED)
    def detect() -> Response[str]:
        request = parse_request(app.current_event, deps.settings, deps.config.api_max_bytes)
        return json_response(200, deps.detect(request.image, request.settings).to_report())

    @app.post("/jobs", summary=docs.JOBS_SUMMARY, description=docs.JOBS, responses=docs.JOB_CREATED)
    def new_job() -> Response[str]:
        raw = raw_body(app.current_event)
        if raw.strip() and content_type(app.current_event) != JSON:
            raise InvalidRequestError("POST /jobs takes an empty body or Content-Type: application/json")
        payload = json_object(raw) if raw.strip() else {}
        created = create_job(payload, s3=deps.s3, config=deps.api_config, settings=deps.settings)
        return json_response(201, created)

    @app.get("/jobs/<job_id>", summary=docs.JOB_SUMMARY, description=docs.JOB, responses=docs.JOB_STATE)
    def job(job_id: str) -> Response[str]:
        state = job_status(job_id, s3=deps.s3, config=deps.api_config, lambda_config=deps.config)
        return json_response(200, state)

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return json_response(404, {"error": NOT_FOUND, "message": "no such route"})

    @app.exception_handler(JobsDisabledError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
    def jobs_disabled(_: Exception) -> Response[str]:
        return json_response(404, {"error": NOT_FOUND, "message": "the job flow is not enabled on this deployment"})

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def failed(exc: Exception) -> Response[str]:
        status, body = error_body(exc)
        deps.on_error(exc, status)
        return json_response(status, body)

    return app


def build_apps(deps: ApiDeps) -> dict[str, ApiGatewayResolver]:
    return {kind: build_app(kind, deps) for kind in RESOLVERS}


def resolve(apps: dict[str, ApiGatewayResolver], event: dict[str, Any], context: Any) -> dict[str, Any]:
    return apps[event_kind(event)].resolve(event, context)

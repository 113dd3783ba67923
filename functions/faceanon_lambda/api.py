"""The API contract without the router: an HTTP request (any of the four event shapes) -> ApiRequest, and
results / errors -> Powertools responses.

``POST /anonymise`` and ``POST /detect`` take either
- ``Content-Type: application/json`` and ``{"image": base64, "return_boxes"?, <options>}``, or
- ``Content-Type: image/*`` and the raw image;
and, in both kinds, the options (``Settings.with_options``: method, shape, fill, mask_scale, threshold,
detection, jpeg_quality) as query parameters too (``return_boxes`` also). An option given both ways is a 400.
Errors: ``{"error": code, "message": text}`` with 400, 404, 413, 415, 422 or 500 (no internals).
"""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from faceanon.errors import (
    FaceAnonError,
    ImageTooLargeError,
    InvalidRequestError,
    ModelError,
    PayloadTooLargeError,
    UnsupportedImageError,
)
from faceanon.service import AnonymiseResult
from faceanon.settings import REQUEST_OPTIONS, Settings

from .config import LAMBDA_PAYLOAD_LIMIT

# Fields of the request itself (not settings); everything else in a JSON body must be a REQUEST_OPTIONS name.
REQUEST_FIELDS: dict[str, type] = {"image": str, "return_boxes": bool}
STATUS: tuple[tuple[type[FaceAnonError], int, str], ...] = (
    (InvalidRequestError, 400, "bad_request"),
    (PayloadTooLargeError, 413, "payload_too_large"),
    (UnsupportedImageError, 415, "unsupported_media_type"),
    (ImageTooLargeError, 422, "image_too_large"),
)
NOT_FOUND = "not_found"
INTERNAL = "internal"
JSON = "application/json"
_HEADER_ROOM = 16 * 1024  # status line, headers and JSON keys next to the base64 image


@dataclass(frozen=True)
class ApiRequest:
    image: bytes
    settings: Settings
    binary: bool  # raw image in, raw image out
    return_boxes: bool = False


def header(event: BaseProxyEvent, name: str) -> str:
    """One request header, case-insensitive, from ``headers`` or (ALB, REST) ``multiValueHeaders``."""
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted and isinstance(value, str):
            return value
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == wanted and values:
            return str(values[0])
    return ""


def content_type(event: BaseProxyEvent) -> str:
    return header(event, "content-type").split(";")[0].strip().lower()


def query_parameters(event: BaseProxyEvent) -> dict[str, str]:
    """Query parameters (each at most once) from whichever field the event shape fills."""
    params: dict[str, str] = {}
    for name, values in event.resolved_query_string_parameters.items():
        given = [values] if isinstance(values, str) else list(values)
        if len(given) > 1:
            raise InvalidRequestError(f"query parameter {name} is given more than once")
        params[name] = given[0] if given else ""
    return params


def raw_body(event: BaseProxyEvent) -> bytes:
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidRequestError("request body is not valid base64") from exc
    return body.encode()


def json_object(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequestError("request body is not valid JSON") from exc
    except RecursionError as exc:  # thousands of nested [ or { (the parser recurses per level)
        raise InvalidRequestError("request body is nested too deeply") from exc
    if not isinstance(payload, dict):
        raise InvalidRequestError("request body must be a JSON object")
    return payload


def _check_size(image: bytes, max_bytes: int) -> bytes:
    if not image:
        raise InvalidRequestError("the image is empty")
    if len(image) > max_bytes:
        raise PayloadTooLargeError(
            f"image is {len(image)} bytes; the API accepts at most {max_bytes} "
            "(Lambda's 6 MB payload limit); use POST /jobs for larger photos"
        )
    return image


def _return_boxes(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise InvalidRequestError("return_boxes must be true or false")


def parse_request(event: BaseProxyEvent, base: Settings, max_bytes: int) -> ApiRequest:
    """Validate an image request (JSON or raw); raises InvalidRequestError / PayloadTooLargeError /
    UnsupportedImageError. Settings validates every option, whichever way it came."""
    kind = content_type(event)
    if kind != JSON and not kind.startswith("image/"):
        raise UnsupportedImageError("Content-Type must be application/json or image/*")
    query: dict[str, Any] = dict(query_parameters(event))
    fields: dict[str, Any] = {}
    if kind == JSON:
        fields = json_object(raw_body(event))
        for name, value in fields.items():
            if name in REQUEST_FIELDS:
                if not isinstance(value, REQUEST_FIELDS[name]):
                    raise InvalidRequestError(f"field {name} has the wrong type")
            elif name not in REQUEST_OPTIONS:
                raise InvalidRequestError(f"unknown field {name}; options: {', '.join(REQUEST_OPTIONS)}")
            if name in query:
                raise InvalidRequestError(f"{name} is given both as a query parameter and as a JSON field")
        if "image" not in fields:
            raise InvalidRequestError("field image (base64) is required")
        try:
            image = base64.b64decode(fields.pop("image"), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidRequestError("field image is not valid base64") from exc
    else:
        image = raw_body(event)
    return_boxes = _return_boxes(fields.pop("return_boxes", query.pop("return_boxes", False)))
    settings = base.with_options(query, what="query parameter").with_options(fields, what="field", typed=True)
    return ApiRequest(_check_size(image, max_bytes), settings, binary=kind != JSON, return_boxes=return_boxes)


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body), headers=headers)


def anonymised_response(result: AnonymiseResult, request: ApiRequest) -> Response[Any]:
    encoded_size = 4 * ((len(result.image) + 2) // 3)
    if encoded_size + _HEADER_ROOM > LAMBDA_PAYLOAD_LIMIT:
        raise PayloadTooLargeError("the anonymised image is too large for an API response; use POST /jobs")
    if request.binary:
        headers = {
            "X-Faces-Count": str(result.face_count),
            "X-Review": "true" if result.review else "false",
            "X-Model-Sha256": result.model_sha256,
        }
        # bytes: Powertools sends them base64 with isBase64Encoded (API Gateway, URLs and ALB decode it).
        return Response(status_code=200, content_type=result.content_type, body=result.image, headers=headers)
    body: dict[str, Any] = {
        "faces": result.face_count,
        "image": base64.b64encode(result.image).decode("ascii"),
        "content_type": result.content_type,
        "review": result.review,
        "review_reasons": list(result.review_reasons),
        "model": result.model_sha256,
    }
    if request.return_boxes:
        body["boxes"] = result.faces_report()
    return json_response(200, body)


def error_body(exc: Exception) -> tuple[int, dict[str, str]]:
    """(status, body) for an exception; only FaceAnonError messages (written for clients) are shown."""
    if isinstance(exc, FaceAnonError) and not isinstance(exc, ModelError):
        for kind, status, code in STATUS:
            if isinstance(exc, kind):
                return status, {"error": code, "message": str(exc)}
    return 500, {"error": INTERNAL, "message": "internal error; the request was not processed"}


def error_response(exc: Exception) -> Response[str]:
    status, body = error_body(exc)
    return json_response(status, body)

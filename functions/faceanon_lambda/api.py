"""The API path: API Gateway (REST, proxy integration) event -> request -> anonymised response.

Contract (see openapi.yaml): ``POST /anonymise`` with either
- ``Content-Type: application/json`` and ``{"image": base64, "method"?, "shape"?, "mask_scale"?,
  "threshold"?, "return_boxes"?}`` -> ``200 {"faces", "image", "content_type", "boxes"?, "review", "model"}``;
- ``Content-Type: image/*`` and the raw image (query parameters method, shape, mask_scale, threshold) ->
  the anonymised image bytes with ``X-Faces-Count``.
Errors: ``{"error": code, "message": text}`` with 400, 413, 415, 422 or 500 (no internals).
"""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from faceanon.errors import (
    FaceAnonError,
    ImageTooLargeError,
    InvalidRequestError,
    ModelError,
    PayloadTooLargeError,
    UnsupportedImageError,
)
from faceanon.service import Anonymise, AnonymiseResult
from faceanon.settings import Settings

from .config import LAMBDA_PAYLOAD_LIMIT, LambdaConfig

# JSON field -> type(s) accepted. Settings validates the values.
_JSON_FIELDS: dict[str, tuple[type, ...]] = {
    "image": (str,),
    "method": (str,),
    "shape": (str,),
    "mask_scale": (int, float),
    "threshold": (int, float),
    "return_boxes": (bool,),
}
_SETTING_FIELDS = ("method", "shape", "mask_scale", "threshold")
_NUMERIC = {"mask_scale", "threshold"}
_STATUS: tuple[tuple[type[FaceAnonError], int, str], ...] = (
    (InvalidRequestError, 400, "bad_request"),
    (PayloadTooLargeError, 413, "payload_too_large"),
    (UnsupportedImageError, 415, "unsupported_media_type"),
    (ImageTooLargeError, 422, "image_too_large"),
)
_HEADER_ROOM = 16 * 1024  # status line, headers and JSON keys next to the base64 image


@dataclass(frozen=True)
class ApiRequest:
    image: bytes
    overrides: dict[str, Any]
    binary: bool  # raw image in, raw image out
    return_boxes: bool = False


def _content_type(event: APIGatewayProxyEvent) -> str:
    return (event.headers.get("content-type") or "").split(";")[0].strip().lower()


def _raw_body(event: APIGatewayProxyEvent) -> bytes:
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidRequestError("request body is not valid base64") from exc
    return body.encode()


def _check_size(image: bytes, config: LambdaConfig) -> bytes:
    if not image:
        raise InvalidRequestError("the image is empty")
    if len(image) > config.api_max_bytes:
        raise PayloadTooLargeError(
            f"image is {len(image)} bytes; the API accepts at most {config.api_max_bytes} "
            "(Lambda's 6 MB payload limit); upload larger photos to the input bucket"
        )
    return image


def _parse_json(raw: bytes, config: LambdaConfig) -> ApiRequest:
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequestError("request body is not valid JSON") from exc
    except RecursionError as exc:  # thousands of nested [ or { (the parser recurses per level)
        raise InvalidRequestError("request body is nested too deeply") from exc
    if not isinstance(payload, dict):
        raise InvalidRequestError("request body must be a JSON object")
    for name, value in payload.items():
        allowed = _JSON_FIELDS.get(name)
        if allowed is None:
            raise InvalidRequestError(f"unknown field: {name}")
        if not isinstance(value, allowed) or (name in _NUMERIC and isinstance(value, bool)):
            raise InvalidRequestError(f"field {name} has the wrong type")
    if "image" not in payload:
        raise InvalidRequestError("field image (base64) is required")
    try:
        image = base64.b64decode(payload["image"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError("field image is not valid base64") from exc
    overrides = {name: payload[name] for name in _SETTING_FIELDS if name in payload}
    return ApiRequest(
        _check_size(image, config), overrides, binary=False, return_boxes=payload.get("return_boxes", False)
    )


def _parse_query(params: dict[str, str]) -> dict[str, Any]:
    unknown = set(params) - set(_SETTING_FIELDS)
    if unknown:
        raise InvalidRequestError(f"unknown query parameter: {sorted(unknown)[0]}")
    overrides: dict[str, Any] = {}
    for name, value in params.items():
        if name in _NUMERIC:
            try:
                overrides[name] = float(value)
            except ValueError as exc:
                raise InvalidRequestError(f"query parameter {name} must be a number") from exc
        else:
            overrides[name] = value
    return overrides


def parse_request(event: APIGatewayProxyEvent, config: LambdaConfig) -> ApiRequest:
    """Validate the request; raises InvalidRequestError / PayloadTooLargeError / UnsupportedImageError."""
    content_type = _content_type(event)
    if content_type == "application/json":
        return _parse_json(_raw_body(event), config)
    if content_type.startswith("image/"):
        image = _check_size(_raw_body(event), config)
        return ApiRequest(image, _parse_query(event.query_string_parameters), binary=True)
    raise UnsupportedImageError("Content-Type must be application/json or image/*")


def success_response(result: AnonymiseResult, request: ApiRequest) -> dict[str, Any]:
    encoded = base64.b64encode(result.image).decode("ascii")
    if len(encoded) + _HEADER_ROOM > LAMBDA_PAYLOAD_LIMIT:
        raise PayloadTooLargeError("the anonymised image is too large for an API response; use the input bucket")
    if request.binary:
        return {
            "statusCode": 200,
            "headers": {
                "Content-Type": result.content_type,
                "X-Faces-Count": str(result.face_count),
                "X-Review": "true" if result.review else "false",
                "X-Model-Sha256": result.model_sha256,
            },
            "body": encoded,
            "isBase64Encoded": True,
        }
    body: dict[str, Any] = {
        "faces": result.face_count,
        "image": encoded,
        "content_type": result.content_type,
        "review": result.review,
        "review_reasons": list(result.review_reasons),
        "model": result.model_sha256,
    }
    if request.return_boxes:
        body["boxes"] = result.faces_report()
    return json_response(200, body)


def json_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def error_response(exc: Exception) -> dict[str, Any]:
    """Map an exception to a client response; only FaceAnonError messages (written for clients) are shown."""
    if isinstance(exc, FaceAnonError) and not isinstance(exc, ModelError):
        for kind, status, code in _STATUS:
            if isinstance(exc, kind):
                return json_response(status, {"error": code, "message": str(exc)})
    return json_response(500, {"error": "internal", "message": "internal error; the request was not processed"})


def anonymise_request(
    event: dict[str, Any], *, config: LambdaConfig, settings: Settings, anonymise: Anonymise
) -> dict[str, Any]:
    """The whole API path as a plain function: returns the proxy response (raises only on 5xx causes)."""
    request = parse_request(APIGatewayProxyEvent(event), config)
    result = anonymise(request.image, settings.override(**request.overrides))
    return success_response(result, request)

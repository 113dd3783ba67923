"""HTTP <-> API Gateway: a request as a REST proxy event (payload 1.0), a Lambda proxy response as HTTP."""

import base64
import binascii
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .serve_routes import Route

STAGE = "local"


def build_event(
    route: Route,
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    *,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
) -> dict[str, Any]:
    """The API Gateway REST proxy event (payload 1.0) for one HTTP request."""
    url = urlsplit(target)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    query = parse_qs(url.query, keep_blank_values=True)
    content_type = next((v[-1] for k, v in multi_headers.items() if k.lower() == "content-type"), "")
    binary = route.is_binary(content_type)
    if binary:
        text: str | None = base64.b64encode(body).decode("ascii")
    else:
        text = body.decode("utf-8", errors="replace")  # API Gateway passes non-binary bodies as text
    request_id = request_id or str(uuid.uuid4())
    return {
        "resource": route.path,
        "path": url.path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/{STAGE}{url.path}",
            "stage": STAGE,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "123456789012",
            "apiId": "local",
            "resourceId": "local",
            "identity": {
                "sourceIp": source_ip,
                "userAgent": multi_headers.get("User-Agent", [""])[-1],
                "apiKey": None,
            },
        },
        "body": text if body else None,
        "isBase64Encoded": binary and bool(body),
    }


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def gateway_error(status: int, message: str) -> HttpResponse:
    """API Gateway's own error shape: ``{"message": text}``."""
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status, [("Content-Type", "application/json")], body)


def to_http(response: Any) -> HttpResponse:
    """A Lambda proxy response -> HTTP; anything malformed is API Gateway's 502."""
    if not isinstance(response, dict):
        return gateway_error(502, "Internal server error")
    status = response.get("statusCode")
    headers = response.get("headers") or {}
    multi = response.get("multiValueHeaders") or {}
    body = response.get("body")
    encoded = response.get("isBase64Encoded", False)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return gateway_error(502, "Internal server error")
    valid = (
        isinstance(headers, dict)
        and isinstance(multi, dict)
        and (body is None or isinstance(body, str))
        and isinstance(encoded, bool)
    )
    if not valid:
        return gateway_error(502, "Internal server error")
    pairs: list[tuple[str, str]] = [(str(k), str(v)) for k, v in headers.items()]
    for name, values in multi.items():
        if not isinstance(values, list):
            return gateway_error(502, "Internal server error")
        pairs.extend((str(name), str(v)) for v in values)
    text = body or ""
    try:
        data = base64.b64decode(text, validate=True) if encoded else text.encode()
    except (binascii.Error, ValueError):
        return gateway_error(502, "Internal server error")
    return HttpResponse(status, pairs, data)

"""The API's sample events (events/api_*.json, one per front door) and readers of the proxy responses."""

import base64
import copy
import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"
# name -> front door; each has an image/* body (base64) of events/photo.jpg's 256 px photo.
BINARY_EVENTS = {
    "rest": "api_binary.json",
    "http": "api_http_binary.json",
    "function_url": "api_url_binary.json",
    "alb": "api_alb_binary.json",
    "alb_multi_value": "api_alb_multi_binary.json",
}
JSON_EVENTS = {"rest": "api_json.json", "http": "api_http_json.json", "function_url": "api_url_json.json"}


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def with_body(event: dict[str, Any], body: bytes | str, *, base64_encoded: bool) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    text = base64.b64encode(body).decode() if isinstance(body, bytes) else body
    changed.update(body=text, isBase64Encoded=base64_encoded)
    return changed


def set_header(event: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    """The event with one header replaced, in whichever header fields its shape carries."""
    changed = copy.deepcopy(event)
    for field, wrap in (("headers", lambda v: v), ("multiValueHeaders", lambda v: [v])):
        headers = changed.get(field)
        if isinstance(headers, dict):
            for key in [k for k in headers if k.lower() == name.lower()]:
                del headers[key]
            headers[name] = wrap(value)
    return changed


def set_query(event: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """The event with these query parameters, in the fields its shape uses (ALB multi-value: lists)."""
    changed = copy.deepcopy(event)
    if "multiValueQueryStringParameters" in changed and "queryStringParameters" not in changed:
        changed["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        return changed
    changed["queryStringParameters"] = query or None
    if "multiValueQueryStringParameters" in changed:
        changed["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    if changed.get("version") == "2.0":
        from urllib.parse import urlencode

        changed["rawQueryString"] = urlencode(query)
    return changed


def response_headers(response: dict[str, Any]) -> dict[str, str]:
    """Lower-cased response headers from ``headers`` or ``multiValueHeaders`` (last value)."""
    merged = {k.lower(): str(v) for k, v in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        merged[key.lower()] = str(values[-1])
    return merged


def response_bytes(response: dict[str, Any]) -> bytes:
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response_bytes(response))

"""Regenerate the API events of every front door (events/api_http_*.json, api_url_*.json, api_alb_*.json,
api_detect.json, api_jobs_*.json) in the shapes AWS sends them, from the photo of scripts/make_events.py.

REST (payload 1.0) events are make_events.py's api_json.json / api_binary.json / api_bad_input.json.
Usage: .venv/bin/python scripts/make_api_events.py
"""

import base64
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_events import ACCOUNT, EVENTS, REGION, api, small_photo

API_ID = "abc123defg"
URL_ID = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"
TARGET_GROUP = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/faceanon-api/0123456789abcdef"
JOB_ID = "0123456789abcdef0123456789abcdef"


def payload_v2(
    method: str,
    path: str,
    body: str | None,
    content_type: str | None,
    *,
    base64_encoded: bool,
    query: dict[str, str] | None = None,
    function_url: bool = False,
) -> dict[str, Any]:
    """HTTP API (payload format 2.0) or Lambda Function URL event: lower-case headers, rawQueryString."""
    domain = f"{URL_ID}.lambda-url.{REGION}.on.aws" if function_url else f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    headers = {"host": domain, "user-agent": "curl/8", "accept": "*/*", "x-forwarded-proto": "https"}
    if content_type:
        headers["content-type"] = content_type
        headers["content-length"] = str(len(body or ""))
    route = "$default" if function_url else f"{method} {path.replace(JOB_ID, '{job_id}')}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous" if function_url else ACCOUNT,
            "apiId": URL_ID if function_url else API_ID,
            "domainName": domain,
            "domainPrefix": URL_ID if function_url else API_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "curl/8",
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": route,
            "stage": "$default",
            "time": "01/Dec/2026:12:00:00 +0000",
            "timeEpoch": 1796126400000,
        },
        "isBase64Encoded": base64_encoded,
    }
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = body
    if path.startswith("/jobs/") and not function_url:
        event["pathParameters"] = {"job_id": path.rsplit("/", 1)[1]}
    return event


def alb(
    method: str,
    path: str,
    body: str,
    content_type: str,
    *,
    base64_encoded: bool,
    query: dict[str, str] | None = None,
    multi_value: bool = False,
) -> dict[str, Any]:
    """ALB target event: headers and query as sent (percent-encoded), multi-value when the group enables it."""
    headers = {
        "host": "faceanon-alb-123.eu-west-1.elb.amazonaws.com",
        "user-agent": "curl/8",
        "accept": "*/*",
        "content-type": content_type,
        "x-forwarded-for": "192.0.2.10",
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
    }
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP}},
        "httpMethod": method,
        "path": path,
    }
    if multi_value:
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()}
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    else:
        event["queryStringParameters"] = query or {}
        event["headers"] = headers
    event.update({"body": body, "isBase64Encoded": base64_encoded})
    return event


def main() -> None:
    photo_b64 = base64.b64encode(small_photo()).decode()
    query = {"shape": "ellipse", "fill": "%23ff0000"}  # ALB leaves the query percent-encoded
    json_body = json.dumps({"image": photo_b64, "return_boxes": True})
    rest_detect = api(json_body, "application/json", base64_encoded=False)
    rest_detect.update(resource="/detect", path="/detect")
    rest_detect["requestContext"].update(resourcePath="/detect", path="/Prod/detect")
    events = {
        "api_http_json.json": payload_v2(
            "POST", "/anonymise", json_body, "application/json", base64_encoded=False, query={"method": "blur"}
        ),
        "api_http_binary.json": payload_v2(
            "POST",
            "/anonymise",
            photo_b64,
            "image/jpeg",
            base64_encoded=True,
            query={"shape": "ellipse", "fill": "#ff0000"},
        ),
        "api_url_binary.json": payload_v2(
            "POST",
            "/anonymise",
            photo_b64,
            "image/jpeg",
            base64_encoded=True,
            query={"shape": "ellipse"},
            function_url=True,
        ),
        "api_url_json.json": payload_v2(
            "POST", "/anonymise", json_body, "application/json", base64_encoded=False, function_url=True
        ),
        "api_alb_binary.json": alb("POST", "/anonymise", photo_b64, "image/jpeg", base64_encoded=True, query=query),
        "api_alb_multi_binary.json": alb(
            "POST", "/anonymise", photo_b64, "image/jpeg", base64_encoded=True, query=query, multi_value=True
        ),
        "api_detect.json": rest_detect,
        "api_jobs_create.json": payload_v2(
            "POST", "/jobs", json.dumps({"content_type": "image/png"}), "application/json", base64_encoded=False
        ),
        "api_jobs_status.json": payload_v2("GET", f"/jobs/{JOB_ID}", None, None, base64_encoded=False),
    }
    for name, event in events.items():
        (EVENTS / name).write_text(json.dumps(event, indent=2) + "\n")


if __name__ == "__main__":
    main()

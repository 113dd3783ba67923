"""The API handler's CORS (off unless configured), X-Ray (never the response) and Powertools debug mode (never on)."""

import json
from types import ModuleType
from typing import Any

import pytest

from support.api_events import load_event, response_headers, set_header
from support.api_fakes import FakeService, b64, call, install_fake, json_event
from support.handlers import load_handler


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeService:
    return install_fake(monkeypatch)


@pytest.fixture
def api(fake: FakeService) -> ModuleType:
    return load_handler("faceanon_lambda.api_handler")


_b64 = b64


@pytest.fixture
def cors_api(fake: FakeService, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("API_CORS_ORIGINS", "https://app.example.com")
    return load_handler("faceanon_lambda.api_handler")


def test_cors_is_off_by_default(api: ModuleType) -> None:
    event = set_header(load_event("api_json.json"), "Origin", "https://app.example.com")
    event["body"] = json.dumps({"image": _b64(b"IMG")})
    assert "access-control-allow-origin" not in response_headers(call(api, event))


def test_cors_when_configured(cors_api: ModuleType) -> None:
    event = set_header(json_event({"image": _b64(b"IMG")}), "Origin", "https://app.example.com")
    headers = response_headers(call(cors_api, event))
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert "X-Faces-Count" in headers["access-control-expose-headers"]
    preflight = set_header(load_event("api_json.json"), "Origin", "https://app.example.com")
    preflight.update(httpMethod="OPTIONS", body=None)
    answer = call(cors_api, preflight)
    assert answer["statusCode"] == 204
    assert "x-api-key" in response_headers(answer)["access-control-allow-headers"].lower()


def test_handler_never_puts_the_response_in_xray(api: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    recorded: list[Any] = []
    monkeypatch.setattr(api.tracer, "_add_response_as_metadata", lambda **kwargs: recorded.append(kwargs))
    assert call(api, json_event({"image": _b64(b"IMG")}))["statusCode"] == 200
    assert recorded, "the tracer decorator did not run"
    assert all(not call_args["capture_response"] for call_args in recorded)


def test_powertools_debug_mode_cannot_leak_the_image(
    fake: FakeService, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """POWERTOOLS_DEV / POWERTOOLS_EVENT_HANDLER_DEBUG would make the resolver print events and tracebacks."""
    monkeypatch.setenv("POWERTOOLS_DEV", "true")
    monkeypatch.setenv("POWERTOOLS_EVENT_HANDLER_DEBUG", "true")
    api = load_handler("faceanon_lambda.api_handler")
    secret = _b64(b"IMG-private-pixels")
    assert call(api, json_event({"image": secret}))["statusCode"] == 200
    crashed = call(api, json_event({"image": _b64(b"CRASH")}))
    assert crashed["statusCode"] == 500
    assert "Traceback" not in crashed["body"]
    assert secret not in capsys.readouterr().out

"""The API handler over a fake service: contract, errors, options, every front door's event shape, CORS and
tracing. Real-model runs per front door: tests/integration/test_api_front_doors.py."""

import base64
import json
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

from faceanon import detect_service, errors, service
from faceanon.detect_service import DetectResult
from faceanon.service import AnonymiseResult
from faceanon.settings import Settings
from support.api_events import (
    BINARY_EVENTS,
    JSON_EVENTS,
    load_event,
    response_bytes,
    response_headers,
    response_json,
    set_header,
    set_query,
    with_body,
)
from support.aws import Context, use_detector
from support.handlers import load_handler
from support.results import FACES, make_result

FAKE_ERRORS: dict[bytes, Exception] = {
    b"BIG": errors.ImageTooLargeError("image has 60000000 pixels; the limit is 50000000"),
    b"MODEL": errors.ModelError("model file not found: /opt/python/secret/path.onnx"),
    b"CRASH": RuntimeError("boom at 0xdeadbeef"),
    b"TEXT": errors.UnsupportedImageError("not an image faceanon can decode"),
}


@dataclass
class FakeService:
    calls: list[tuple[str, bytes, Settings]] = field(default_factory=list)

    def _check(self, kind: str, data: bytes, settings: Settings) -> None:
        self.calls.append((kind, data, settings))
        for prefix, exc in FAKE_ERRORS.items():
            if data.startswith(prefix):
                raise exc

    def anonymise(self, data: bytes, settings: Settings, detector: Any = None) -> AnonymiseResult:
        self._check("anonymise", data, settings)
        return make_result(image=b"ANON:" + data, method=settings.method, shape=settings.shape)

    def detect(self, data: bytes, settings: Settings, detector: Any = None) -> DetectResult:
        self._check("detect", data, settings)
        return DetectResult("JPEG", 64, 48, 1, FACES, settings.effective_threshold, settings.detection, "ab" * 32, {})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeService:
    fake = FakeService()
    use_detector(monkeypatch, "fake-detector")
    monkeypatch.setattr(service, "anonymise", fake.anonymise)
    monkeypatch.setattr(detect_service, "detect", fake.detect)
    return fake


@pytest.fixture
def api(fake: FakeService) -> ModuleType:
    return load_handler("faceanon_lambda.api_handler")


def call(api: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = api.handler(event, Context())
    return response


def json_event(payload: Any, name: str = "api_json.json", content_type: str = "application/json") -> dict[str, Any]:
    event = with_body(load_event(name), json.dumps(payload), base64_encoded=False)
    return set_header(event, "Content-Type", content_type)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------- contract (REST events)


def test_json_round_trip(api: ModuleType, fake: FakeService) -> None:
    payload = {"image": _b64(b"IMG-json"), "method": "blur", "shape": "box", "mask_scale": 2, "threshold": 0.5}
    response = call(api, json_event({**payload, "return_boxes": True}))
    assert response["statusCode"] == 200
    assert response_headers(response)["content-type"] == "application/json"
    body = response_json(response)
    assert base64.b64decode(body["image"]) == b"ANON:IMG-json"
    assert (body["faces"], body["content_type"], body["review"], body["model"]) == (2, "image/jpeg", True, "ab" * 32)
    assert body["boxes"][0] == {"box": [1.0, 2.0, 30.0, 40.0], "score": 0.9123}
    used = fake.calls[0][2]
    assert (used.method, used.shape, used.mask_scale, used.threshold) == ("blur", "box", 2, 0.5)


def test_json_without_boxes(api: ModuleType) -> None:
    assert "boxes" not in response_json(call(api, json_event({"image": _b64(b"IMG")})))


def test_binary_round_trip(api: ModuleType, fake: FakeService) -> None:
    event = set_query(
        with_body(load_event("api_binary.json"), b"IMG-binary", base64_encoded=True),
        {"method": "pixelate", "mask_scale": "1.5"},
    )
    response = call(api, event)
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    assert response_bytes(response) == b"ANON:IMG-binary"
    headers = response_headers(response)
    assert (headers["x-faces-count"], headers["content-type"], headers["x-review"]) == ("2", "image/jpeg", "true")
    assert (fake.calls[0][2].method, fake.calls[0][2].mask_scale) == ("pixelate", 1.5)


def test_new_options_in_both_request_kinds(api: ModuleType, fake: FakeService) -> None:
    """fill, detection and jpeg_quality: JSON fields and query parameters, in JSON and raw requests alike."""
    options = {"fill": "#00ff00", "detection": "fast", "jpeg_quality": "70"}
    raw = set_query(with_body(load_event("api_binary.json"), b"IMG", base64_encoded=True), options)
    as_query = set_query(json_event({"image": _b64(b"IMG")}), options)
    as_fields = json_event({"image": _b64(b"IMG"), "fill": "#00ff00", "detection": "fast", "jpeg_quality": 70})
    for event in (raw, as_query, as_fields):
        assert call(api, event)["statusCode"] == 200
    assert {(s.fill, s.detection, s.jpeg_quality) for _, _, s in fake.calls} == {("#00ff00", "fast", 70)}


def test_json_request_reads_query_parameters(api: ModuleType, fake: FakeService) -> None:
    event = set_query(json_event({"image": _b64(b"IMG")}), {"method": "blur", "return_boxes": "true"})
    body = response_json(call(api, event))
    assert "boxes" in body
    assert fake.calls[0][2].method == "blur"


@pytest.mark.parametrize(
    ("event", "status", "message_part"),
    [
        (load_event("api_bad_input.json"), 400, "not valid base64"),
        (with_body(load_event("api_json.json"), "{not json", base64_encoded=False), 400, "not valid JSON"),
        (with_body(load_event("api_json.json"), "[1, 2]", base64_encoded=False), 400, "JSON object"),
        (with_body(load_event("api_json.json"), "{}", base64_encoded=False), 400, "image (base64) is required"),
        (json_event({"image": _b64(b"IMG"), "colour": "red"}), 400, "unknown field colour"),
        (json_event({"image": _b64(b"IMG"), "threshold": "0.5"}), 400, "threshold has the wrong type"),
        (set_query(load_event("api_binary.json"), {"image": "x"}), 400, "unknown query parameter image"),
        (json_event({"image": _b64(b"IMG"), "threshold": "high"}), 400, "threshold has the wrong type"),
        (json_event({"image": _b64(b"IMG"), "mask_scale": True}), 400, "mask_scale has the wrong type"),
        (json_event({"image": _b64(b"IMG"), "jpeg_quality": 80.5}), 400, "jpeg_quality has the wrong type"),
        (json_event({"image": _b64(b"IMG"), "return_boxes": "yes"}), 400, "return_boxes has the wrong type"),
        (json_event({"image": _b64(b"IMG"), "method": "smudge"}), 400, "method must be one of"),
        (json_event({"image": _b64(b"IMG"), "fill": "red"}), 400, "fill must be"),
        (json_event({"image": _b64(b"IMG"), "detection": "slow"}), 400, "detection must be one of"),
        (json_event({"image": _b64(b"IMG"), "threshold": 2.0}), 400, "threshold must be in"),
        (set_query(json_event({"image": _b64(b"IMG"), "method": "blur"}), {"method": "fill"}), 400, "both as a query"),
        (json_event({"image": ""}), 400, "empty"),
        (json_event({"image": _b64(b"IMG" * 2_000_000)}), 413, "use POST /jobs"),
        (json_event({"image": _b64(b"IMG")}, content_type="text/plain"), 415, "Content-Type must be"),
        (set_header(load_event("api_json.json"), "Content-Type", ""), 415, "Content-Type must be"),
        (json_event({"image": _b64(b"TEXT")}), 415, "not an image"),
        (json_event({"image": _b64(b"BIG")}), 422, "pixels"),
        (with_body(load_event("api_binary.json"), "***", base64_encoded=True), 400, "not valid base64"),
        (set_query(load_event("api_binary.json"), {"size": "1"}), 400, "unknown query parameter size"),
        (set_query(load_event("api_binary.json"), {"threshold": "x"}), 400, "must be a number"),
        (set_query(load_event("api_binary.json"), {"jpeg_quality": "0"}), 400, "jpeg_quality must be in"),
    ],
)
def test_client_errors(api: ModuleType, event: dict[str, Any], status: int, message_part: str) -> None:
    response = call(api, event)
    assert response["statusCode"] == status
    body = response_json(response)
    assert message_part in body["message"]
    assert body["error"] not in ("internal", "not_found")


@pytest.mark.parametrize("payload", [b"MODEL", b"CRASH"])
def test_server_errors_hide_internals(api: ModuleType, payload: bytes) -> None:
    response = call(api, json_event({"image": _b64(payload)}))
    assert response["statusCode"] == 500
    assert response_json(response)["error"] == "internal"
    assert "secret" not in response["body"]
    assert "0xdeadbeef" not in response["body"]


def test_response_too_large_for_lambda(api: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    huge = make_result(image=b"x" * 5_000_000)
    monkeypatch.setattr(service, "anonymise", lambda data, settings, detector=None: huge)
    assert call(api, json_event({"image": _b64(b"IMG")}))["statusCode"] == 413


def test_unknown_route_is_a_json_404(api: ModuleType) -> None:
    event = load_event("api_json.json")
    event.update(path="/nothing", resource="/nothing")
    response = call(api, event)
    assert response["statusCode"] == 404
    assert response_json(response)["error"] == "not_found"


# ---------------------------------------------------------------- POST /detect


def test_detect_returns_faces_and_never_anonymises(api: ModuleType, fake: FakeService) -> None:
    response = call(api, set_query(load_event("api_detect.json"), {"detection": "fast"}))
    assert response["statusCode"] == 200
    body = response_json(response)
    assert (body["width"], body["height"], body["face_count"], body["detection"]) == (64, 48, 2, "fast")
    assert body["faces"][0] == {"box": [1.0, 2.0, 30.0, 40.0], "score": 0.9123}
    assert "image" not in body
    assert [kind for kind, _, _ in fake.calls] == ["detect"]


# ---------------------------------------------------------------- every front door's shape


@pytest.mark.parametrize("door", sorted(BINARY_EVENTS))
def test_each_front_door_binary(api: ModuleType, fake: FakeService, door: str) -> None:
    event = with_body(load_event(BINARY_EVENTS[door]), b"IMG-" + door.encode(), base64_encoded=True)
    response = call(api, event)
    assert response["statusCode"] == 200, response.get("body")
    assert response_bytes(response) == b"ANON:IMG-" + door.encode()
    assert response_headers(response)["x-faces-count"] == "2"
    if door == "alb_multi_value":  # ALB with multi-value headers reads and answers multiValueHeaders only
        assert "multiValueHeaders" in response
        assert "headers" not in response
    if door.startswith("alb"):
        assert fake.calls[0][2].fill == "#ff0000"  # ALB's percent-encoded %23ff0000 was decoded


@pytest.mark.parametrize("door", sorted(BINARY_EVENTS))
def test_each_front_door_rejects_a_bad_request(api: ModuleType, door: str) -> None:
    event = set_header(load_event(BINARY_EVENTS[door]), "content-type", "text/plain")
    response = call(api, event)
    assert response["statusCode"] == 415
    assert response_json(response)["error"] == "unsupported_media_type"


@pytest.mark.parametrize("door", sorted(JSON_EVENTS))
def test_each_front_door_json(api: ModuleType, door: str) -> None:
    event = json_event({"image": _b64(b"IMG"), "return_boxes": True}, name=JSON_EVENTS[door])
    response = call(api, event)
    assert response["statusCode"] == 200
    assert base64.b64decode(response_json(response)["image"]) == b"ANON:IMG"


def test_event_kinds() -> None:
    from faceanon_lambda.api_app import event_kind

    kinds = {door: event_kind(load_event(name)) for door, name in BINARY_EVENTS.items()}
    assert kinds == {
        "rest": "rest",
        "http": "http",
        "function_url": "function_url",
        "alb": "alb",
        "alb_multi_value": "alb",
    }


# ---------------------------------------------------------------- CORS and tracing


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


def test_jobs_are_404_when_the_deployment_has_no_input_bucket(api: ModuleType) -> None:
    event = load_event("api_json.json")
    event.update(path="/jobs", resource="/jobs", body="")
    response = call(api, event)
    assert response["statusCode"] == 404
    assert "not enabled" in response_json(response)["message"]

"""The API handler over a fake service: contract, errors, options and every front door's event shape (CORS,
X-Ray and debug mode: test_api_privacy.py; the real model per front door: tests/integration/test_api_front_doors.py)."""

import base64
from types import ModuleType
from typing import Any

import pytest

from faceanon import service
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
from support.api_fakes import FakeService, b64, call, install_fake, json_event
from support.handlers import load_handler
from support.results import make_result


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeService:
    return install_fake(monkeypatch)


@pytest.fixture
def api(fake: FakeService) -> ModuleType:
    return load_handler("faceanon_lambda.api_handler")


_b64 = b64


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


def test_jobs_are_404_when_the_deployment_has_no_input_bucket(api: ModuleType) -> None:
    event = load_event("api_json.json")
    event.update(path="/jobs", resource="/jobs", body="")
    response = call(api, event)
    assert response["statusCode"] == 404
    assert "not enabled" in response_json(response)["message"]

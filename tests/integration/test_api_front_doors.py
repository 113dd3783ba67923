"""Every front door with the real model: REST, HTTP API, Function URL and ALB (single and multi-value header
events, as AWS sends them, in events/) -> a 200 anonymised photo (checked by pixels) and a clear 4xx; and
POST /detect does less work than /anonymise (it never masks or encodes)."""

import base64
import io
import json
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image

from faceanon import image_encode, masks, service
from faceanon.detector import CenterFaceDetector
from support.api_events import (
    BINARY_EVENTS,
    load_event,
    response_bytes,
    response_headers,
    response_json,
    set_header,
)
from support.aws import Context, use_detector
from support.handlers import load_handler

RED = (255, 0, 0)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, real_detector: CenterFaceDetector) -> ModuleType:
    use_detector(monkeypatch, real_detector)
    return load_handler("faceanon_lambda.api_handler")


def detect_faces(api: ModuleType, photo: bytes) -> list[dict[str, Any]]:
    event = load_event("api_detect.json")
    event["body"] = json.dumps({"image": base64.b64encode(photo).decode()})
    response = api.handler(event, Context())
    assert response["statusCode"] == 200
    faces: list[dict[str, Any]] = response_json(response)["faces"]
    return faces


def fill_of(event: dict[str, Any]) -> tuple[int, int, int]:
    query = event.get("queryStringParameters") or {k: v[0] for k, v in event["multiValueQueryStringParameters"].items()}
    return RED if query.get("fill") in ("#ff0000", "%23ff0000") else (0, 0, 0)


@pytest.mark.parametrize("door", sorted(BINARY_EVENTS))
def test_front_door_anonymises_the_photo(api: ModuleType, door: str) -> None:
    event = load_event(BINARY_EVENTS[door])
    photo = base64.b64decode(event["body"])
    response = api.handler(event, Context())
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    headers = response_headers(response)
    assert headers["content-type"] == "image/jpeg"
    faces = detect_faces(api, photo)
    assert int(headers["x-faces-count"]) == len(faces) >= 1
    before = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"), dtype=np.int16)
    after = np.asarray(Image.open(io.BytesIO(response_bytes(response))).convert("RGB"), dtype=np.int16)
    assert after.shape == before.shape
    fill = np.asarray(fill_of(event), dtype=np.int16)
    away = np.ones(before.shape[:2], dtype=bool)
    for face in faces:
        x1, y1, x2, y2 = face["box"]
        cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
        assert np.abs(after[cy - 2 : cy + 3, cx - 2 : cx + 3] - fill).mean() < 20  # masked with the fill asked
        w, h = x2 - x1, y2 - y1
        away[max(0, int(y1 - h)) : int(y2 + h), max(0, int(x1 - w)) : int(x2 + w)] = False
    assert np.abs(after[away] - before[away]).mean() < 8  # the rest of the photo is the photo
    if door == "alb_multi_value":
        assert set(response) >= {"multiValueHeaders", "statusCode", "body"}
        assert "headers" not in response


@pytest.mark.parametrize("door", sorted(BINARY_EVENTS))
def test_front_door_gives_a_clear_4xx(api: ModuleType, door: str) -> None:
    event = load_event(BINARY_EVENTS[door])
    event["body"] = base64.b64encode(b"this is not a photo").decode()
    response = api.handler(event, Context())
    assert response["statusCode"] == 415
    assert response_json(response) == {
        "error": "unsupported_media_type",
        "message": "not an image in a supported format (JPEG, PNG, WebP, GIF, TIFF, BMP, AVIF, HEIC)",
    }
    no_type = api.handler(set_header(load_event(BINARY_EVENTS[door]), "content-type", "text/plain"), Context())
    assert no_type["statusCode"] == 415


def test_detect_never_masks_or_encodes(api: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """The call structure that makes /detect cheaper than /anonymise for the same photo."""
    calls: list[str] = []
    real_mask, real_encode = masks.apply_masks, image_encode.encode

    def counting_mask(*args: Any, **kwargs: Any) -> Any:
        calls.append("mask")
        return real_mask(*args, **kwargs)

    def counting_encode(*args: Any, **kwargs: Any) -> Any:
        calls.append("encode")
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(service, "apply_masks", counting_mask)
    monkeypatch.setattr(service, "encode", counting_encode)
    photo = base64.b64decode(load_event("api_binary.json")["body"])
    faces = detect_faces(api, photo)
    assert faces
    assert calls == []
    response = api.handler(load_event("api_binary.json"), Context())
    assert response["statusCode"] == 200
    assert calls == ["mask", "encode"]  # the same counters do see /anonymise's work
    assert int(response_headers(response)["x-faces-count"]) == len(faces)

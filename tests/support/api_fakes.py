"""A stand-in for faceanon's anonymise and detect services behind the API handler, and the API's test fixtures."""

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
from support.api_events import load_event, set_header, with_body
from support.aws import Context, use_detector
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


def install_fake(monkeypatch: pytest.MonkeyPatch) -> FakeService:
    """The Lambda environment with FakeService in place of the services (load the handler after this)."""
    fake = FakeService()
    use_detector(monkeypatch, "fake-detector")
    monkeypatch.setattr(service, "anonymise", fake.anonymise)
    monkeypatch.setattr(detect_service, "detect", fake.detect)
    return fake


def call(api: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = api.handler(event, Context())
    return response


def json_event(payload: Any, name: str = "api_json.json", content_type: str = "application/json") -> dict[str, Any]:
    event = with_body(load_event(name), json.dumps(payload), base64_encoded=False)
    return set_header(event, "Content-Type", content_type)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()

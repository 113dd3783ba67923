"""Integration: the hostile image corpus through the template's API handler with the real CenterFace model
(skipped when no model is built). Same contract as with the fake detector: 4xx or 200, never a 5xx."""

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from faceanon.detector import CenterFaceDetector
from hostile.corpus import OK, ImageCase, binary_event, image_cases
from hostile.guards import hang_guard, peak_rss_mib
from support.aws import Context, use_detector
from support.template import template_handler

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture(scope="module")
def real_api(real_detector: CenterFaceDetector) -> Iterator[Handler]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_detector(monkeypatch, real_detector)
        _, handler = template_handler("Api")
        yield handler


@pytest.mark.parametrize("case", image_cases(), ids=lambda c: c.name)
def test_image_payload_with_real_model(real_api: Handler, case: ImageCase) -> None:
    before = peak_rss_mib()
    with hang_guard(120):
        response = real_api(binary_event(case.data, case.content_type), Context())
    assert peak_rss_mib() - before < 600
    assert response["statusCode"] in case.api, response["body"][:300]
    if response["statusCode"] != OK:
        assert json.loads(response["body"])["error"] != "internal"
    else:
        assert base64.b64decode(response["body"])

"""The hostile corpus through the API handler that template.yaml routes POST /anonymise to.

Invalid input gets a clear 4xx (an error code and a message, never "internal"); a valid image gets 200 and
comes back as an image of the same format with no EXIF; nothing hangs or blows up memory.
"""

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from hostile.corpus import OK, ImageCase, RequestCase, base_jpeg, binary_event, image_cases, json_event, request_cases
from hostile.guards import hang_guard, peak_rss_mib
from support.aws import Context, use_detector
from support.fakes import BoxDetector
from support.template import template_handler

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
MAX_RSS_GROWTH_MIB = 400  # decoding any bomb of the corpus would take 900 MiB or more
HANG_SECONDS = 60


@pytest.fixture(scope="module")
def api() -> Handler:
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_detector(monkeypatch, BoxDetector())
        _, handler = template_handler("Api")
        yield handler


def call(api: Handler, event: dict[str, Any]) -> dict[str, Any]:
    before = peak_rss_mib()
    with hang_guard(HANG_SECONDS):
        response = api(event, Context())
    assert peak_rss_mib() - before < MAX_RSS_GROWTH_MIB
    return response


def check_response(response: dict[str, Any], allowed: frozenset[int], message: str = "") -> None:
    status = response["statusCode"]
    assert status in allowed, f"status {status}: {response['body'][:300]}"
    if status == OK:
        return
    body = json.loads(response["body"])
    assert body["error"] != "internal"
    assert isinstance(body["message"], str)
    assert body["message"]
    if message:
        assert message in body["message"]


def returned_image(response: dict[str, Any]) -> Image.Image:
    if response["isBase64Encoded"]:
        data = base64.b64decode(response["body"])
    else:
        data = base64.b64decode(json.loads(response["body"])["image"])
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


PRIVATE_TAGS = {0x010F, 0x0110, 0x013B, 0x8769, 0x8825, 0x927C, 0xA431}  # make, model, artist, EXIF, GPS, ...


def private_metadata(image: Image.Image) -> set[str]:
    """What of the input's metadata an output image carries (TIFF keeps its own structural tags, nothing else)."""
    exif = image.getexif()
    leaked = {f"tag {tag:#x}" for tag in exif if image.format != "TIFF" or tag in PRIVATE_TAGS}
    leaked |= {key for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop") if key in image.info}
    return leaked


def test_corpus_is_big_enough() -> None:
    kinds = {case.name.split("_")[0] for case in image_cases()}
    assert len(image_cases()) + len(request_cases()) >= 30
    assert {"jpeg", "png", "gif", "tiff", "bmp", "zero", "random"} <= kinds


@pytest.mark.parametrize("case", image_cases(), ids=lambda c: c.name)
@pytest.mark.parametrize("transport", ["json", "binary"])
def test_image_payload(api: Handler, case: ImageCase, transport: str) -> None:
    event = (
        json_event({"image": base64.b64encode(case.data).decode()})
        if transport == "json"
        else (binary_event(case.data, case.content_type))
    )
    response = call(api, event)
    check_response(response, case.api)
    if response["statusCode"] == OK:
        image = returned_image(response)
        assert image.width * image.height > 0
        assert not private_metadata(image)


@pytest.mark.parametrize("case", request_cases(), ids=lambda c: c.name)
def test_request_body(api: Handler, case: RequestCase) -> None:
    response = call(api, case.build(base_jpeg()))
    check_response(response, case.api, case.message)
    if response["statusCode"] == OK:
        assert returned_image(response).size == Image.open(io.BytesIO(base_jpeg())).size


@pytest.mark.parametrize(
    ("name", "orientation_size"),
    [(f"jpeg_exif_orientation_{o}", (40, 64) if o >= 5 else (64, 40)) for o in range(1, 9)],
)
def test_orientation_is_applied(api: Handler, name: str, orientation_size: tuple[int, int]) -> None:
    case = next(c for c in image_cases() if c.name == name)
    response = call(api, binary_event(case.data))
    assert response["statusCode"] == OK
    assert returned_image(response).size == orientation_size


def test_polyglot_loses_its_archive(api: Handler) -> None:
    case = next(c for c in image_cases() if c.name == "jpeg_zip_polyglot")
    assert b"PK\x03\x04" in case.data
    response = call(api, binary_event(case.data))
    assert response["statusCode"] == OK
    assert b"PK\x03\x04" not in base64.b64decode(response["body"])

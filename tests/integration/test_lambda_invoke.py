"""The functions of template.yaml run out of the SAM build (`.aws-sam/build`, made by
``bash scripts/sam_tools.sh build``) the way Lambda runs them: awslambdaric against the local Runtime API
stand-in, ``python -S`` with only the function directory, the layer and the runtime's boto3 on the path.

Skipped when there is no build for this machine, unless FACEANON_REQUIRE_SAM_BUILD=1 (scripts/test.sh sets it
after building), which turns the skip into a failure.
"""

import base64
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from faceanon_tools.lambda_invoke import FunctionSpec, InvokeError, function_spec, invoke
from support.api_events import BINARY_EVENTS, response_bytes, response_headers

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / ".aws-sam" / "build" / "template.yaml"
EVENTS = ROOT / "events"
SAMPLE = ROOT / "src" / "faceanon" / "samples" / "astronaut.jpg"
REGION = "eu-west-1"

if not BUILT.is_file():
    if os.environ.get("FACEANON_REQUIRE_SAM_BUILD") == "1":
        raise RuntimeError(f"{BUILT} is missing: bash scripts/sam_tools.sh build")
    pytest.skip("no SAM build (bash scripts/sam_tools.sh build)", allow_module_level=True)


def spec(name: str) -> FunctionSpec:
    return function_spec(BUILT, name)


def test_template_functions_resolve_to_the_build() -> None:
    api, upload = spec("AnonymiseApiFunction"), spec("AnonymiseUploadFunction")
    assert api.handler == "faceanon_lambda.api_handler.handler"
    assert api.code_dir == BUILT.parent / "AnonymiseApiFunction"
    assert api.layer_dirs == (BUILT.parent / "ModelLayer",)
    assert upload.unresolved == (
        "OUTPUT_BUCKET",
        "VIDEO_STATE_MACHINE_ARN",
    )  # deployed resources: the caller passes them
    from faceanon.settings import ENV_VARS

    assert {k for k in api.environment if k.startswith("FACEANON_")} == set(ENV_VARS)


def test_unknown_function_is_refused() -> None:
    with pytest.raises(InvokeError, match="AnonymiseApiFunction"):
        spec("NoSuchFunction")


def test_api_json_binary_and_bad_input_events() -> None:
    events = [(EVENTS / name).read_bytes() for name in ("api_json.json", "api_binary.json", "api_bad_input.json")]
    report = invoke(spec("AnonymiseApiFunction"), events)
    assert report.ok, (report.init_error, [i.error for i in report.invocations])
    as_json, as_binary, bad = (json.loads(i.response or b"") for i in report.invocations)

    assert as_json["statusCode"] == 200
    body = json.loads(as_json["body"])
    assert body["faces"] >= 1
    assert body["content_type"] == "image/jpeg"
    assert len(body["model"]) == 64
    assert body["boxes"][0]["score"] > 0.5
    with Image.open(io.BytesIO(base64.b64decode(body["image"]))) as image:
        assert image.size == (256, 256)

    assert as_binary["statusCode"] == 200
    assert as_binary["isBase64Encoded"] is True
    assert response_headers(as_binary)["x-faces-count"] == str(body["faces"])
    with Image.open(io.BytesIO(base64.b64decode(as_binary["body"]))) as image:
        assert image.format == "JPEG"

    assert bad["statusCode"] == 400
    assert "base64" in json.loads(bad["body"])["message"]


@pytest.mark.parametrize("door", ["http", "function_url", "alb", "alb_multi_value"])
def test_every_front_door_through_the_build(door: str) -> None:
    """The layer-only runtime (no pydantic, no dev packages) serves each event shape."""
    report = invoke(spec("AnonymiseApiFunction"), [(EVENTS / BINARY_EVENTS[door]).read_bytes()])
    assert report.ok, (report.init_error, [i.error for i in report.invocations])
    (response,) = (json.loads(i.response or b"") for i in report.invocations)
    assert response["statusCode"] == 200
    assert int(response_headers(response)["x-faces-count"]) >= 1
    with Image.open(io.BytesIO(response_bytes(response))) as image:
        assert (image.format, image.size) == ("JPEG", (256, 256))


def _linked_copy(source: Path, target: Path, *, skip: Path) -> None:
    """A copy of ``source`` made of symlinks, without the file ``skip`` (relative to source)."""
    target.mkdir(parents=True)
    for entry in source.iterdir():
        relative = entry.relative_to(source)
        if skip == relative:
            continue
        if skip.parts[: len(relative.parts)] == relative.parts:
            _linked_copy(entry, target / entry.name, skip=Path(*skip.parts[1:]))
        else:
            (target / entry.name).symlink_to(entry)


def test_wrong_handler_path_fails_at_init() -> None:
    good = spec("AnonymiseApiFunction")
    wrong = FunctionSpec(**{**good.__dict__, "handler": "faceanon_lambda.api.handler"})
    report = invoke(wrong, [(EVENTS / "api_bad_input.json").read_bytes()])
    assert report.init_error is not None
    assert "Handler 'handler' missing on module 'faceanon_lambda.api'" in report.init_error["errorMessage"]


def test_file_missing_from_the_layer_fails_at_init(tmp_path: Path) -> None:
    good = spec("AnonymiseApiFunction")
    layer = tmp_path / "ModelLayer"
    _linked_copy(good.layer_dirs[0], layer, skip=Path("python/faceanon/masks.py"))
    broken = FunctionSpec(**{**good.__dict__, "layer_dirs": (layer,)})
    report = invoke(broken, [(EVENTS / "api_bad_input.json").read_bytes()])
    assert report.init_error is not None
    assert "faceanon.masks" in report.init_error["errorMessage"]


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_sqs_wrapped_s3_event_through_the_build(moto_server: str, tmp_path: Path) -> None:
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    s3 = boto3.client("s3", endpoint_url=moto_server, **credentials)
    sqs = boto3.client("sqs", endpoint_url=moto_server, **credentials)
    from test_lambda_moto import INPUT, OUTPUT, check_anonymised, drain_as_lambda_event, setup_pipeline

    url = setup_pipeline(s3, sqs)
    photo = SAMPLE.read_bytes()
    s3.put_object(Bucket=INPUT, Key="uploads/astronaut photo.jpg", Body=photo)
    event = tmp_path / "event.json"
    event.write_text(json.dumps(drain_as_lambda_event(sqs, url)))

    # Through the command line, as a user would run it.
    command = [sys.executable, "-m", "faceanon.cli", "invoke", "AnonymiseUploadFunction", str(event)]
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    done = subprocess.run(
        [*command, "--env", f"OUTPUT_BUCKET={OUTPUT}", "--repeat", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == {"batchItemFailures": []}
    assert "init" in done.stderr

    versions = s3.list_object_versions(Bucket=OUTPUT).get("Versions", [])
    keys = sorted(v["Key"] for v in versions)
    assert keys == ["anonymised/uploads/astronaut photo.jpg", "audit/uploads/astronaut photo.jpg.json"]
    audit: dict[str, Any] = json.loads(s3.get_object(Bucket=OUTPUT, Key=keys[1])["Body"].read())
    output = s3.get_object(Bucket=OUTPUT, Key=keys[0])["Body"].read()
    check_anonymised(photo, output, audit["faces"])


@pytest.mark.parametrize("name", ["s3_put.json", "s3_put_sam_generated.json"])
def test_plain_s3_event_through_the_build(moto_server: str, name: str) -> None:
    """The issue's crash (KeyError 'messageId'): the plain S3 events of events/ anonymise the photo they name."""
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    s3 = boto3.client("s3", endpoint_url=moto_server, **credentials)
    out = f"out-{name.removesuffix('.json').replace('_', '-')}"  # moto's state outlives one server: a bucket each
    existing = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    for bucket in {"faceanon-input-example", out} - existing:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    photo = (EVENTS / "photo.jpg").read_bytes()
    s3.put_object(Bucket="faceanon-input-example", Key="uploads/astronaut photo.jpg", Body=photo)
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    command = [sys.executable, "-m", "faceanon.cli", "invoke", "AnonymiseUploadFunction", str(EVENTS / name)]
    done = subprocess.run(
        [*command, "--env", f"OUTPUT_BUCKET={out}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    key = "uploads/astronaut photo.jpg"
    assert json.loads(done.stdout) == {
        "results": [{"key": key, "status": "anonymised", "output_key": f"anonymised/{key}"}]
    }
    audit: dict[str, Any] = json.loads(s3.get_object(Bucket=out, Key=f"audit/{key}.json")["Body"].read())
    assert audit["status"] == "anonymised"
    assert audit["source"]["etag"] == s3.head_object(Bucket="faceanon-input-example", Key=key)["ETag"].strip('"')

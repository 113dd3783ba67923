"""The trigger-less function of template.yaml, run out of the SAM build as Lambda runs it (faceanon invoke),
answers the shipped S3 Batch Operations event (schema 2.0: two photos and a missing key) against a moto server.

Skipped when there is no build for this machine or it predates BackfillFunction, unless
FACEANON_REQUIRE_SAM_BUILD=1 (scripts/test.sh sets it after building), which turns the skip into a failure.
"""

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote_plus

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from faceanon_tools.lambda_invoke import function_spec, invoke
from faceanon_tools.template import load_template

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / ".aws-sam" / "build" / "template.yaml"
EVENT = ROOT / "events" / "s3_batch_operations.json"
SAMPLE = ROOT / "src" / "faceanon" / "samples" / "astronaut.jpg"
INPUT, OUTPUT, REGION = "faceanon-input-example", "faceanon-output-example", "eu-west-1"


def _trigger_less_function() -> str | None:
    """The function of the source template without events (the one S3 Batch Operations invokes); not the ones
    a state machine invokes (VideoFunction: its DefinitionSubstitutions name it)."""
    resources = load_template(ROOT / "template.yaml")["Resources"]
    by_state_machines = {
        value["Fn::GetAtt"][0]
        for resource in resources.values()
        if resource["Type"] == "AWS::Serverless::StateMachine"
        for value in resource["Properties"].get("DefinitionSubstitutions", {}).values()
        if isinstance(value, dict) and "Fn::GetAtt" in value
    }
    names = [
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        and not resource["Properties"].get("Events")
        and name not in by_state_machines
    ]
    return names[0] if len(names) == 1 else None


FUNCTION = _trigger_less_function()
_built = BUILT.is_file() and FUNCTION in load_template(BUILT)["Resources"]
if not _built:
    if os.environ.get("FACEANON_REQUIRE_SAM_BUILD") == "1":
        raise RuntimeError(f"{BUILT} is missing or stale: bash scripts/sam_tools.sh build")
    pytest.skip("no current SAM build (bash scripts/sam_tools.sh build)", allow_module_level=True)


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)  # the function's child process inherits AWS_*
    try:
        yield endpoint
    finally:
        server.stop()


def test_schema_2_event_through_the_built_trigger_less_function(moto_server: str) -> None:
    assert FUNCTION == "BackfillFunction"
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name=REGION)
    for bucket in (INPUT, OUTPUT):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    event = json.loads(EVENT.read_text())
    keys = [unquote_plus(task["s3Key"]) for task in event["tasks"]]
    for key in keys[:2]:
        s3.put_object(Bucket=INPUT, Key=key, Body=SAMPLE.read_bytes())

    report = invoke(function_spec(BUILT, FUNCTION), [EVENT.read_bytes()], extra_env={"OUTPUT_BUCKET": OUTPUT})
    assert report.ok, (report.init_error, [i.error for i in report.invocations])
    response = json.loads(report.invocations[0].response or b"")
    assert (response["invocationSchemaVersion"], response["invocationId"]) == ("2.0", event["invocationId"])
    assert response["treatMissingKeysAs"] == "PermanentFailure"
    codes = [(r["taskId"], r["resultCode"]) for r in response["results"]]
    assert codes == list(
        zip([t["taskId"] for t in event["tasks"]], ["Succeeded", "Succeeded", "PermanentFailure"], strict=True)
    )
    assert response["results"][2]["resultString"] == "S3 NotFound"
    for key in keys[:2]:
        tags = s3.get_object_tagging(Bucket=OUTPUT, Key=f"anonymised/{key}")["TagSet"]
        assert {t["Key"]: t["Value"] for t in tags}["faces"] == "1"
        audit = json.loads(s3.get_object(Bucket=OUTPUT, Key=f"audit/{key}.json")["Body"].read())
        assert audit["source"]["key"] == key
        image = s3.get_object(Bucket=OUTPUT, Key=f"anonymised/{key}")["Body"].read()
        with Image.open(io.BytesIO(image)) as anonymised:
            assert anonymised.size == (512, 512)
    listed = s3.list_objects_v2(Bucket=OUTPUT)["Contents"]
    assert len(listed) == 4

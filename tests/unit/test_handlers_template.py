"""template.yaml and openapi.yaml agree with the code: handlers exist, env names, defaults, contract, security."""

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from faceanon.settings import ENV_VARS, METHODS, REQUEST_OPTIONS, SHAPES, Settings
from faceanon_tools.lambda_invoke import function_spec
from faceanon_tools.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = sorted(k for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function")
OPENAPI = yaml.safe_load((ROOT / "openapi.yaml").read_text())


def of_type(kind: str) -> dict[str, Any]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == kind}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_handler_string_points_at_a_handler_function(name: str) -> None:
    spec = function_spec(ROOT / "template.yaml", name)
    module, function = spec.handler.rsplit(".", 1)
    source = spec.code_dir / (module.replace(".", "/") + ".py")
    tree = ast.parse(source.read_text())
    assert function in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_template_sets_exactly_the_settings_env_vars() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert {k for k in variables if k.startswith("FACEANON_")} == set(ENV_VARS)


@pytest.mark.parametrize(
    ("parameter", "field"),
    [
        ("MaskMethod", "method"),
        ("MaskShape", "shape"),
        ("MaskFill", "fill"),
        ("MaskScale", "mask_scale"),
        ("DetectionThreshold", "threshold"),
        ("Detection", "detection"),
        ("MaxPixels", "max_pixels"),
        ("MaxBytes", "max_bytes"),
        ("JpegQuality", "jpeg_quality"),
        ("PngCompressLevel", "png_compress_level"),
    ],
)
def test_parameter_defaults_are_the_product_defaults(parameter: str, field: str) -> None:
    default = TEMPLATE["Parameters"][parameter]["Default"]
    (env_name,) = (name for name, setting in ENV_VARS.items() if setting == field)
    # Lambda hands parameters to the code as environment strings; "" means "unset".
    assert Settings.from_env({env_name: str(default)}) == Settings()


def test_template_defaults_parse_as_settings() -> None:
    spec = function_spec(ROOT / "template.yaml", "AnonymiseApiFunction")
    assert Settings.from_env(spec.environment) == Settings()


def test_layer_is_built_by_the_makefile() -> None:
    (layer_id, layer), *_ = of_type("AWS::Serverless::LayerVersion").items()
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
    assert re.search(rf"^build-{layer_id}:", makefile, re.MULTILINE)
    assert TEMPLATE["Globals"]["Function"]["Layers"] == [{"Ref": layer_id}]
    assert TEMPLATE["Globals"]["Function"]["Runtime"] == layer["Properties"]["CompatibleRuntimes"][0] == "python3.12"


def test_buckets_are_private_encrypted_and_tls_only() -> None:
    buckets = of_type("AWS::S3::Bucket")
    assert {"InputBucket", "OutputBucket"} <= set(buckets)
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    policies = {p["Properties"]["Bucket"]["Ref"]: p for p in of_type("AWS::S3::BucketPolicy").values()}
    assert set(policies) == set(buckets)
    tls_only = {"Effect": "Deny", "Principal": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(tls_only.items() <= statement.items() for statement in statements)


def test_output_never_goes_where_the_trigger_listens() -> None:
    upload = RESOURCES["AnonymiseUploadFunction"]["Properties"]
    assert upload["Environment"]["Variables"]["OUTPUT_BUCKET"] == {"Ref": "OutputBucket"}
    assert "NotificationConfiguration" in RESOURCES["InputBucket"]["Properties"]
    assert "NotificationConfiguration" not in RESOURCES["OutputBucket"]["Properties"]


def test_queue_has_dlq_alarm_and_partial_batch_failures() -> None:
    queue = RESOURCES["UploadQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["UploadDeadLetterQueue", "Arn"]}
    upload = RESOURCES["AnonymiseUploadFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * upload["Timeout"]
    (event,) = upload["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    alarm = of_type("AWS::CloudWatch::Alarm")["DeadLetterQueueAlarm"]
    assert alarm["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["UploadDeadLetterQueue", "QueueName"]}


def test_api_requires_a_key_and_is_throttled() -> None:
    api = RESOURCES["AnonymiseApi"]["Properties"]
    assert api["Auth"]["ApiKeyRequired"] is True
    assert api["Auth"]["UsagePlan"]["Throttle"]
    assert api["BinaryMediaTypes"] == ["image~1*"]
    events = RESOURCES["AnonymiseApiFunction"]["Properties"]["Events"]
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]): e for e in events.values()}
    assert {e["Type"] for e in events.values()} == {"Api"}
    api_routes = {("post", "/anonymise"), ("post", "/detect"), ("post", "/jobs"), ("get", "/jobs/{job_id}")}
    assert set(routes) == api_routes | {("options", "/{proxy+}")}
    for route in api_routes:  # every route but the CORS preflight (which browsers send without the key)
        assert routes[route]["Properties"]["Auth"]["ApiKeyRequired"] is True
    assert routes[("options", "/{proxy+}")]["Properties"]["Auth"]["ApiKeyRequired"] is False


def test_rest_routes_are_the_apps_routes() -> None:
    document = OPENAPI["paths"]
    events = RESOURCES["AnonymiseApiFunction"]["Properties"]["Events"].values()
    wired = {
        (e["Properties"]["Path"], e["Properties"]["Method"]) for e in events if e["Properties"]["Method"] != "options"
    }
    assert wired == {(path, method) for path, operations in document.items() for method in operations}


@pytest.mark.parametrize(
    ("condition", "resources"),
    [
        (
            "HttpApiEnabled",
            {
                "AnonymiseHttpApi",
                "AnonymiseHttpApiIntegration",
                "AnonymiseHttpApiRoute",
                "AnonymiseHttpApiStage",
                "AnonymiseHttpApiPermission",
            },
        ),
        ("FunctionUrlEnabled", {"AnonymiseFunctionUrl"}),
        ("AlbEnabled", {"AnonymiseAlbPermission", "AnonymiseAlbTargetGroup", "AnonymiseAlbListenerRule"}),
    ],
)
def test_other_front_doors_are_opt_in(condition: str, resources: set[str]) -> None:
    assert {name for name, res in RESOURCES.items() if res.get("Condition") == condition} == resources
    parameters = TEMPLATE["Parameters"]
    assert parameters["EnableHttpApi"]["Default"] == parameters["EnableFunctionUrl"]["Default"] == "false"
    assert parameters["AlbListenerArn"]["Default"] == ""


def test_other_front_doors_target_the_api_function() -> None:
    arn = {"Fn::GetAtt": ["AnonymiseApiFunction", "Arn"]}
    integration = RESOURCES["AnonymiseHttpApiIntegration"]["Properties"]
    assert (integration["IntegrationUri"], integration["PayloadFormatVersion"]) == (arn, "2.0")
    assert RESOURCES["AnonymiseHttpApiRoute"]["Properties"]["AuthorizationType"] == {"Ref": "HttpApiAuth"}
    assert TEMPLATE["Parameters"]["HttpApiAuth"]["Default"] == "AWS_IAM"
    url = RESOURCES["AnonymiseFunctionUrl"]["Properties"]
    assert (url["TargetFunctionArn"], url["AuthType"]) == (arn, {"Ref": "FunctionUrlAuthType"})
    assert TEMPLATE["Parameters"]["FunctionUrlAuthType"]["Default"] == "AWS_IAM"
    group = RESOURCES["AnonymiseAlbTargetGroup"]["Properties"]
    assert (group["TargetType"], group["Targets"]) == ("lambda", [{"Id": arn}])
    assert {"Key": "lambda.multi_value_headers.enabled", "Value": {"Ref": "AlbMultiValueHeaders"}} in group[
        "TargetGroupAttributes"
    ]


def test_api_function_environment_is_what_the_code_reads() -> None:
    from faceanon_lambda.api_config import ApiConfig

    variables = RESOURCES["AnonymiseApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["API_CORS_ORIGINS"] == {"Ref": "ApiCorsOrigins"}
    assert TEMPLATE["Parameters"]["ApiCorsOrigins"]["Default"] == ""  # CORS off by default
    assert variables["INPUT_BUCKET"] == {"Ref": "InputBucket"}
    # Job uploads must land where the upload trigger listens.
    assert variables["JOBS_PREFIX"] == {"Fn::Sub": "${UploadPrefix}jobs/"}
    env = {"INPUT_BUCKET": "in", "JOBS_PREFIX": "up/jobs/", "JOB_UPLOAD_EXPIRES": "120", "API_CORS_ORIGINS": "a,b"}
    assert set(env) <= set(variables)
    config = ApiConfig.from_env(env)
    assert (config.jobs_prefix, config.upload_expires, config.cors_origins) == ("up/jobs/", 120, ("a", "b"))


def test_api_function_may_presign_only_job_uploads() -> None:
    (policy,) = RESOURCES["AnonymiseApiFunction"]["Properties"]["Policies"]
    puts = [st for st in policy["Statement"] if "s3:PutObject" in str(st["Action"])]
    assert [st["Resource"] for st in puts] == [{"Fn::Sub": "${InputBucket.Arn}/${UploadPrefix}jobs/*"}]


def test_openapi_matches_the_handler_contract() -> None:
    from faceanon_lambda import api

    schemas = OPENAPI["components"]["schemas"]
    assert set(schemas["ImageRequest"]["properties"]) == set(api.REQUEST_FIELDS) | set(REQUEST_OPTIONS)
    assert tuple(schemas["Method"]["enum"]) == METHODS
    assert tuple(schemas["Shape"]["enum"]) == SHAPES
    codes = {code for _, _, code in api.STATUS} | {api.INTERNAL, api.NOT_FOUND}
    assert set(schemas["Error"]["properties"]["error"]["enum"]) == codes
    statuses = {str(status) for _, status, _ in api.STATUS} | {"200", "500"}
    assert statuses <= set(OPENAPI["paths"]["/anonymise"]["post"]["responses"])
    assert {p["name"] for p in OPENAPI["paths"]["/anonymise"]["post"]["parameters"]} == {
        *REQUEST_OPTIONS,
        "return_boxes",
    }


@pytest.mark.parametrize("name", ["AnonymiseUploadFunction", "BackfillFunction"])
def test_upload_paths_environment_parses_as_lambda_config(name: str) -> None:
    """The template's REVIEW_HOLD / REVIEW_PREFIX / EVENT_BUS_NAME are the names LambdaConfig reads."""
    from faceanon_lambda.config import LambdaConfig

    environment = function_spec(ROOT / "template.yaml", name).environment
    config = LambdaConfig.from_env(environment)
    assert (config.review_hold, config.review_prefix) == (False, "review/")
    assert config.review_prefix == TEMPLATE["Parameters"]["ReviewPrefix"]["Default"]
    # Only the upload function announces (the backfill has a completion report instead).
    assert config.event_bus == ("default" if name == "AnonymiseUploadFunction" else "")
    assert LambdaConfig.from_env(environment | {"REVIEW_HOLD": "true"}).review_hold is True


def test_the_upload_function_may_announce_on_its_bus_only() -> None:
    statements = RESOURCES["AnonymiseUploadFunction"]["Properties"]["Policies"][0]["Statement"]
    (announce,) = [s for s in statements if s["Action"] == "events:PutEvents"]
    assert "event-bus/${EventBusName}" in announce["Resource"]["Fn::Sub"]

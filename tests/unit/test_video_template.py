"""template.yaml's video path: VideoLayer, VideoFunction, VideoStateMachine (statemachine/video.asl.json),
the work bucket, and the upload function's hand-off; names and permissions as the code reads them."""

import re
from typing import Any

from faceanon_lambda.video_config import VideoConfig
from support.asl import ASL, load_definition
from support.template import REPO, template, with_defaults

RESOURCES = template()["Resources"]


def _statements(name: str) -> list[dict[str, Any]]:
    found = []
    for policy in RESOURCES[name]["Properties"]["Policies"]:
        found.extend(policy.get("Statement", []))
    return found


def _sub(value: Any) -> str:
    return str(value.get("Fn::Sub", value)) if isinstance(value, dict) else str(value)


def test_the_video_function_runs_fifteen_minutes_with_the_video_layer() -> None:
    props = RESOURCES["VideoFunction"]["Properties"]
    assert props["Handler"] == "faceanon_lambda.video_handler.handler"
    assert (REPO / "functions" / "faceanon_lambda" / "video_handler.py").is_file()
    assert props["Timeout"] == 900
    assert props["EphemeralStorage"] == {"Size": 10240}
    assert props["Layers"] == [{"Ref": "VideoLayer"}]  # SAM appends it to the global ModelLayer
    assert RESOURCES["AnonymiseUploadFunction"]["Properties"].get("Layers") is None  # photo functions: no av


def test_the_video_functions_variables_are_the_ones_video_config_reads() -> None:
    variables = set(RESOURCES["VideoFunction"]["Properties"]["Environment"]["Variables"])
    source = (REPO / "functions" / "faceanon_lambda" / "video_config.py").read_text()
    read = set(re.findall(r'"(VIDEO_[A-Z_]+)"', source.split("def from_env", 1)[1]))
    assert read - {"VIDEO_MAX_WIDTH", "VIDEO_MAX_HEIGHT", "VIDEO_MAX_BYTES"} <= variables
    env = {k: str(v) for k, v in variables_with_defaults().items()}
    config = VideoConfig.from_env(env)
    assert config.segment_seconds == 20
    assert config.detect_every == 1


def variables_with_defaults() -> dict[str, Any]:
    parameters = {name: p.get("Default") for name, p in template()["Parameters"].items()}
    variables = RESOURCES["VideoFunction"]["Properties"]["Environment"]["Variables"]
    return {
        name: parameters[value["Ref"]] if isinstance(value, dict) and "Ref" in value else value
        for name, value in variables.items()
        if not isinstance(value, dict) or value.get("Ref") in parameters
    }


def test_the_video_layer_is_built_per_architecture_with_pinned_av() -> None:
    layer = RESOURCES["VideoLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Metadata"]["WorkingDirectory"] == {"Fn::Sub": "layers/video/${Architecture}"}
    for architecture in template()["Parameters"]["Architecture"]["AllowedValues"]:
        assert (REPO / "layers" / "video" / architecture).is_dir()
    assert "build-VideoLayer:" in (REPO / "layers" / "video" / "Makefile").read_text()
    pins = [line for line in (REPO / "layers/video/requirements.txt").read_text().splitlines() if "==" in line]
    assert pins == ["av==19.0.2"]
    assert '"av==19.0.2"' in (REPO / "pyproject.toml").read_text()  # the same as the video extra


def test_the_definitions_substitutions_are_exactly_its_placeholders() -> None:
    props = RESOURCES["VideoStateMachine"]["Properties"]
    assert REPO / props["DefinitionUri"] == ASL
    assert set(re.findall(r"\$\{(\w+)\}", ASL.read_text())) == set(props["DefinitionSubstitutions"])
    assert props["DefinitionSubstitutions"]["VideoFunctionArn"] == {"Fn::GetAtt": ["VideoFunction", "Arn"]}
    assert props["DefinitionSubstitutions"]["MaxConcurrency"] == {"Ref": "VideoMaxConcurrency"}


def test_the_machine_plans_maps_the_segments_distributed_and_joins() -> None:
    machine = load_definition(max_concurrency=7, function_arn="arn:aws:lambda:eu-west-1:1:function:video")
    states = machine["States"]
    assert machine["StartAt"] == "Plan"
    assert states["Plan"]["Parameters"]["Payload"]["step"] == "plan"
    assert states["Join"]["Parameters"]["Payload"]["step"] == "join"
    segments = states["AnonymiseSegments"]
    assert segments["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert segments["MaxConcurrency"] == 7
    assert segments["ToleratedFailurePercentage"] == 0  # one failed segment fails the video: no output
    assert segments["ItemSelector"]["step"] == "segment"
    tasks = [states["Plan"], states["Join"], segments["ItemProcessor"]["States"]["AnonymiseSegment"]]
    assert {t["Parameters"]["FunctionName"] for t in tasks} == {"arn:aws:lambda:eu-west-1:1:function:video"}
    assert all(t["Retry"] for t in tasks)


def test_the_state_machine_may_only_invoke_its_function_and_run_its_own_children() -> None:
    props = RESOURCES["VideoStateMachine"]["Properties"]
    assert {"LambdaInvokePolicy": {"FunctionName": {"Ref": "VideoFunction"}}} in props["Policies"]
    statements = [s for p in props["Policies"] for s in p.get("Statement", [])]
    starts = [s for s in statements if s["Action"] == "states:StartExecution"]
    assert [_sub(s["Resource"]) for s in starts] == [
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-video"
    ]
    assert props["Name"] == {"Fn::Sub": "${AWS::StackName}-video"}
    assert props["Logging"]["IncludeExecutionData"] is False  # no object keys in the logs


def test_the_upload_function_starts_only_the_video_state_machine() -> None:
    upload = RESOURCES["AnonymiseUploadFunction"]["Properties"]
    assert upload["Environment"]["Variables"]["VIDEO_STATE_MACHINE_ARN"] == {"Ref": "VideoStateMachine"}
    states = [s for s in _statements("AnonymiseUploadFunction") if str(s["Action"]).startswith("states:")]
    assert states == [
        {
            "Sid": "StartVideoExecutions",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": {"Ref": "VideoStateMachine"},
        }
    ]


def test_the_video_function_has_no_wildcard_and_never_writes_the_input_bucket() -> None:
    for statement in _statements("VideoFunction"):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions)
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in resources
        writes = any(a.startswith(("s3:Put", "s3:Delete")) for a in actions)
        assert not (writes and any("InputBucket" in _sub(r) for r in resources)), statement["Sid"]


def test_raw_segments_expire_within_a_day() -> None:
    bucket = with_defaults(RESOURCES["VideoWorkBucket"])["Properties"]
    (found,) = [r for r in bucket["LifecycleConfiguration"]["Rules"] if r["Id"] == "expire-segments"]
    assert found["Status"] == "Enabled"
    assert found["ExpirationInDays"] == 1
    assert found["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


def test_invoke_gives_the_video_function_both_layers_as_sam_does() -> None:
    from faceanon_tools.lambda_spec import function_spec

    spec = function_spec(REPO / "template.yaml", "VideoFunction")
    assert spec.layer_dirs == (REPO / "layers", REPO / "layers" / "video")
    assert spec.timeout == 900
    assert function_spec(REPO / "template.yaml", "AnonymiseUploadFunction").layer_dirs == (REPO / "layers",)

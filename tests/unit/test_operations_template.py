"""template.yaml's operations side: every alarm can reach someone, logs expire, metrics keep functions apart,
the dashboard shows what the alarms watch, the layer is built for the template's architecture, samconfig."""

import fnmatch
import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from faceanon_lambda.config import LambdaConfig
from faceanon_tools.lambda_invoke import function_spec
from support.handlers import load_handler
from support.template import REPO, TEMPLATE, resources, template

TEMPLATE_DATA = template()
RESOURCES: dict[str, Any] = TEMPLATE_DATA["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE_DATA["Parameters"]
ALARMS = resources("AWS::CloudWatch::Alarm")
FUNCTIONS = sorted(resources("AWS::Serverless::Function"))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def referenced(value: Any) -> str:
    """The resource a ``Ref`` or ``Fn::GetAtt`` names."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


def grants(statement: dict[str, Any], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action, pattern) for pattern in as_list(statement["Action"]))


def key_statements_for(service: Any) -> list[dict[str, Any]]:
    key = RESOURCES[referenced(RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"])]
    return [
        statement
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if statement["Effect"] == "Allow" and statement["Principal"].get("Service") == service
    ]


# ---------------------------------------------------------------- alarms reach someone


def test_there_are_alarms() -> None:
    assert len(ALARMS) >= 12


@pytest.mark.parametrize("name", sorted(ALARMS))
def test_every_alarm_notifies_the_topic(name: str) -> None:
    props = ALARMS[name]["Properties"]
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert props["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert props["TreatMissingData"] == "notBreaching"  # no traffic is not an incident


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    """alias/aws/sns cannot be used by CloudWatch: the topic's key must be this stack's, granting CloudWatch."""
    topic = RESOURCES["AlarmTopic"]["Properties"]
    key_name = referenced(topic["KmsMasterKeyId"])
    key = RESOURCES[key_name]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    (statement,) = key_statements_for("cloudwatch.amazonaws.com")
    assert grants(statement, "kms:Decrypt")
    assert grants(statement, "kms:GenerateDataKey")  # kms:GenerateDataKey* covers it
    assert statement["Resource"] == "*"
    assert "Condition" not in statement  # nothing that could silently stop CloudWatch publishing
    policy = key["Properties"]["KeyPolicy"]["Statement"]
    assert not [s for s in policy if s["Effect"] == "Deny"]
    account = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert any(s["Principal"] == account and grants(s, "kms:PutKeyPolicy") for s in policy)  # never unmanageable


def test_alarm_email_subscribes_to_the_topic() -> None:
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}
    assert subscription["Properties"]["Protocol"] == "email"


def watched() -> set[tuple[str, str, str]]:
    """(namespace, metric, what it is about) of every alarm; 'what' is the resource its dimension names."""
    found = set()
    for alarm in ALARMS.values():
        props = alarm["Properties"]
        about = sorted(referenced(d["Value"]) for d in props["Dimensions"] if isinstance(d["Value"], dict))
        found.add((props["Namespace"], props["MetricName"], about[-1]))
    return found


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_has_error_throttle_and_duration_alarms(function: str) -> None:
    for metric in ("Errors", "Throttles", "Duration"):
        assert ("AWS/Lambda", metric, function) in watched()


def test_queue_and_api_alarms() -> None:
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "UploadDeadLetterQueue") in watched()
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", "UploadQueue") in watched()
    assert ("AWS/ApiGateway", "5XXError", "AnonymiseApi.Stage") in watched()
    backlog = ALARMS["UploadQueueBacklogAlarm"]["Properties"]
    assert backlog["Threshold"] == {"Ref": "UploadBacklogAlarmSeconds"}


def test_api_alarm_names_the_api_as_sam_does() -> None:
    """REST API metrics are keyed by the API's name; SAM names an API without Name after the stack."""
    assert "Name" not in RESOURCES["AnonymiseApi"]["Properties"]
    dimensions = {d["Name"]: d["Value"] for d in ALARMS["Api5xxAlarm"]["Properties"]["Dimensions"]}
    assert dimensions == {"ApiName": {"Ref": "AWS::StackName"}, "Stage": {"Ref": "AnonymiseApi.Stage"}}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_duration_alarm_fires_at_80_percent_of_the_timeout(function: str) -> None:
    (alarm,) = [
        a["Properties"]
        for a in ALARMS.values()
        if a["Properties"]["MetricName"] == "Duration"
        and a["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    ]
    assert alarm["ExtendedStatistic"] == "p99"
    timeout_ms = function_spec(TEMPLATE, function).timeout * 1000
    assert alarm["Threshold"] == pytest.approx(0.8 * timeout_ms)


# ---------------------------------------------------------------- logs


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_logs_to_its_own_expiring_encrypted_log_group(function: str) -> None:
    logging_config = RESOURCES[function]["Properties"]["LoggingConfig"]
    group_name = referenced(logging_config["LogGroup"])
    group = RESOURCES[group_name]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert referenced(group["Properties"]["KmsKeyId"]) == referenced(
        RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
    )
    # The key lets CloudWatch Logs use it for exactly this stack's log groups (its encryption context).
    (statement,) = key_statements_for({"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"})
    assert grants(statement, "kms:GenerateDataKey")
    assert grants(statement, "kms:Decrypt")
    patterns = [p["Fn::Sub"] for p in as_list(statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])]
    arn = (
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
        + group["Properties"]["LogGroupName"]["Fn::Sub"]
    )
    assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in patterns)
    others = [RESOURCES[f]["Properties"]["LoggingConfig"]["LogGroup"] for f in FUNCTIONS]
    assert others.count(logging_config["LogGroup"]) == 1


def test_log_retention_default_is_a_value_cloudwatch_accepts() -> None:
    retention = PARAMETERS["LogRetentionDays"]
    assert retention["Default"] in retention["AllowedValues"]
    assert retention["Default"] <= 90  # log lines name object keys: weeks, not forever


# ---------------------------------------------------------------- metrics per function


def test_each_function_has_its_own_service_name() -> None:
    names = [function_spec(TEMPLATE, f).environment["POWERTOOLS_SERVICE_NAME"] for f in FUNCTIONS]
    assert len(set(names)) == len(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_metrics_carry_the_functions_service_dimension(function: str, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = function_spec(TEMPLATE, function).environment
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    observability = load_handler("faceanon_lambda.observability")
    assert LambdaConfig.from_env(environment).service_name == environment["POWERTOOLS_SERVICE_NAME"]
    observability.metrics.add_metric(name="ImagesAnonymised", unit=MetricUnit.Count, value=1)
    try:
        emf = observability.metrics.serialize_metric_set()
    finally:
        observability.metrics.clear_metrics()
    assert emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert emf["service"] == environment["POWERTOOLS_SERVICE_NAME"]


def test_upload_event_source_caps_concurrency() -> None:
    (event,) = RESOURCES["AnonymiseUploadFunction"]["Properties"]["Events"].values()
    assert event["Properties"]["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "UploadMaxConcurrency"}}
    limit = PARAMETERS["UploadMaxConcurrency"]
    assert (limit["MinValue"], limit["MaxValue"]) == (2, 1000)  # what SQS event sources accept
    assert limit["MinValue"] <= limit["Default"] <= limit["MaxValue"]


# ---------------------------------------------------------------- dashboard


def dashboard() -> tuple[dict[str, Any], set[str]]:
    """The dashboard body as JSON (each ${...} replaced by its name) and the names it substitutes."""
    body, variables = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([^}]+)\}", body))
    unknown = {
        n for n in names if n.split(".")[0] not in RESOURCES and n not in variables and not n.startswith("AWS::")
    }
    assert not unknown
    return json.loads(re.sub(r"\$\{([^}]+)\}", r"\1", body)), names


def test_dashboard_shows_every_alarm_and_what_it_watches() -> None:
    body, names = dashboard()
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(f"{name}.Arn" for name in ALARMS)
    graphed = {
        (metric[0], metric[1])
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
    }
    for alarm in ALARMS.values():
        assert (alarm["Properties"]["Namespace"], alarm["Properties"]["MetricName"]) in graphed
    assert set(FUNCTIONS) <= names


def test_dashboard_custom_metrics_use_the_functions_service_names() -> None:
    body, _ = dashboard()
    services = {
        metric[3]
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
        if metric[0] == "FaceAnon"
    }
    assert services == {function_spec(TEMPLATE, f).environment["POWERTOOLS_SERVICE_NAME"] for f in FUNCTIONS}
    assert (
        TEMPLATE_DATA["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "FaceAnon"
    )


# ---------------------------------------------------------------- layer architecture


def test_layer_is_built_for_the_templates_architecture() -> None:
    architecture = {"Ref": "Architecture"}
    assert TEMPLATE_DATA["Globals"]["Function"]["Architectures"] == [architecture]
    layer = RESOURCES["ModelLayer"]
    assert layer["Properties"]["CompatibleArchitectures"] == [architecture]
    assert layer["Metadata"]["BuildArchitecture"] == architecture
    assert layer["Metadata"]["WorkingDirectory"] == {"Fn::Sub": "layers/${Architecture}"}


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_makefile_downloads_wheels_for_the_folder_it_runs_in(architecture: str, tmp_path: Path) -> None:
    assert architecture in PARAMETERS["Architecture"]["AllowedValues"]
    folder = REPO / "layers" / architecture  # WorkingDirectory for this Architecture
    dry_run = subprocess.run(
        ["make", "-n", "-f", str(REPO / "layers" / "Makefile"), "build-ModelLayer"],
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "ARTIFACTS_DIR": str(tmp_path), "ARCHITECTURE": "x86_64-from-the-environment"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    platform = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
    platforms = set(re.findall(r"--platform (\S+)", dry_run))
    assert platforms == {f"manylinux_2_28_{platform}", f"manylinux2014_{platform}"}


def test_makefile_refuses_to_guess_the_architecture(tmp_path: Path) -> None:
    run = subprocess.run(
        ["make", "-s", "-f", str(REPO / "layers" / "Makefile"), "build-ModelLayer"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "ARTIFACTS_DIR": str(tmp_path / "out")},
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert "unknown architecture" in run.stderr


# ---------------------------------------------------------------- samconfig.toml


def test_samconfig_deploys_the_default_environment() -> None:
    text = (REPO / "samconfig.toml").read_text()
    config = tomllib.loads(text)
    deploy = config["default"]["deploy"]["parameters"]
    assert config["default"]["global"]["parameters"]["stack_name"]
    assert "CAPABILITY_IAM" in as_list(deploy["capabilities"])
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is True
    (overrides,) = re.findall(r'^# parameter_overrides = "([^"]*)"', text, re.MULTILINE)
    for assignment in overrides.split():
        assert assignment.split("=", 1)[0] in PARAMETERS

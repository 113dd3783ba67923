"""template.yaml backfill resources: the trigger-less function, its least-privilege role, the Batch Operations role."""

from pathlib import Path
from typing import Any

from faceanon_tools.lambda_invoke import function_spec
from faceanon_tools.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def statements(function: str) -> dict[str, dict[str, Any]]:
    (policy,) = RESOURCES[function]["Properties"]["Policies"]
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_only_function_without_events_is_the_batch_handler() -> None:
    functions = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
    # VideoFunction has no event source either: VideoStateMachine invokes it (tests/unit/test_video_template.py).
    (name,) = [k for k, v in functions.items() if not v["Properties"].get("Events") and k != "VideoFunction"]
    assert name == "BackfillFunction"
    spec = function_spec(ROOT / "template.yaml", name)
    assert spec.handler == "faceanon_lambda.batch_handler.handler"
    assert spec.timeout >= 60
    variables = RESOURCES[name]["Properties"]["Environment"]["Variables"]
    assert variables["OUTPUT_BUCKET"] == {"Ref": "OutputBucket"}


def test_backfill_writes_exactly_where_and_what_the_upload_path_writes() -> None:
    backfill, upload = statements("BackfillFunction"), statements("AnonymiseUploadFunction")
    for sid in ("WriteAnonymisedImagesAndAudit", "RollBackOutputWhenAuditFails", "ReadAuditForIdempotency"):
        assert backfill[sid] == upload[sid]
    for statement in backfill.values():
        assert statement["Effect"] == "Allow"
        assert all(action.startswith("s3:") and "*" not in action for action in as_list(statement["Action"]))
        assert all(resource != "*" for resource in as_list(statement["Resource"]))
    assert set(as_list(backfill["ReadSourceObjects"]["Action"])) == {"s3:GetObject", "s3:GetObjectVersion"}


def test_batch_operations_role_trusts_s3_batch_and_invokes_only_the_backfill_function() -> None:
    role = RESOURCES["BatchOperationsRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    (policy,) = role["Policies"]
    granted = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    invoke = granted["InvokeBackfillFunction"]
    assert invoke["Action"] == "lambda:InvokeFunction"
    assert invoke["Resource"][0] == {"Fn::GetAtt": ["BackfillFunction", "Arn"]}
    assert as_list(granted["WriteCompletionReports"]["Action"]) == ["s3:PutObject"]
    assert set(as_list(granted["ReadManifests"]["Action"])) == {"s3:GetObject", "s3:GetObjectVersion"}
    for statement in granted.values():
        assert all("*" not in action for action in as_list(statement["Action"]))


def test_outputs_name_what_create_job_needs() -> None:
    outputs = TEMPLATE["Outputs"]
    assert outputs["BackfillFunctionArn"]["Value"] == {"Fn::GetAtt": ["BackfillFunction", "Arn"]}
    assert outputs["BatchOperationsRoleArn"]["Value"] == {"Fn::GetAtt": ["BatchOperationsRole", "Arn"]}
    assert outputs["BatchJobsBucketName"]["Value"] == {"Ref": "BatchJobsBucket"}

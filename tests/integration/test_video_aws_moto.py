"""Video on AWS end to end on moto with the real model: upload -> queue handler starts the state machine
(moto Step Functions) -> the definition's steps run in-process in order (plan -> every segment -> join) ->
one anonymised video, its audit record, an empty work prefix. And the ways it must fail closed."""

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

pytest.importorskip("av")

from faceanon_tools.lambda_context import LocalContext
from support import asl
from support.aws import sqs_event
from support.handlers import load_handler
from support.videos import face_clip, read_frames, write_clip

REGION, INPUT, OUTPUT, WORK = "eu-west-1", "faceanon-input-hostile", "faceanon-output-hostile", "faceanon-work"
Context = functools.partial(LocalContext, function_name="VideoFunction", aws_request_id="video-1")
# Two seconds at 30 fps with a keyframe every 15 frames: two 1 s segments at VIDEO_SEGMENT_SECONDS=1.
KEYFRAMES = {"g": "15", "keyint_min": "15", "sc_threshold": "0"}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "OUTPUT_BUCKET": OUTPUT,
        "VIDEO_WORK_BUCKET": WORK,
        "VIDEO_SEGMENT_SECONDS": "1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "faceanon-video",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (INPUT, OUTPUT, WORK):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=OUTPUT, VersioningConfiguration={"Status": "Enabled"})
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="faceanon-video",
            definition=json.dumps(asl.load_definition()),
            roleArn="arn:aws:iam::123456789012:role/faceanon-video",
        )["stateMachineArn"]
        monkeypatch.setenv("VIDEO_STATE_MACHINE_ARN", machine)
        yield {"s3": s3, "sfn": sfn, "machine": machine}


def _handlers() -> tuple[ModuleType, ModuleType]:
    return load_handler("faceanon_lambda.queue_handler"), load_handler("faceanon_lambda.video_handler")


def _started_input(aws: dict[str, Any]) -> dict[str, Any]:
    executions = aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]
    assert len(executions) == 1
    described = aws["sfn"].describe_execution(executionArn=executions[0]["executionArn"])
    return {"input": json.loads(described["input"]), "name": executions[0]["name"]}


def _run_machine(video: ModuleType, started: dict[str, Any]) -> Any:
    def invoke(payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = video.handler(json.loads(json.dumps(payload)), Context())  # as JSON, as AWS
        return result

    context = {"Execution": {"Name": started["name"]}}
    return asl.run(asl.load_definition(), started["input"], invoke, context)


def _keys(s3: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_an_uploaded_video_is_anonymised_through_segments_and_joined(aws: dict[str, Any], tmp_path: Path) -> None:
    clip = face_clip(tmp_path / "walk.mp4", count=60, audio=True, options=KEYFRAMES)
    aws["s3"].upload_file(str(clip.path), INPUT, "cams/walk.mp4")
    queue, video = _handlers()
    answer = queue.handler(sqs_event("cams/walk.mp4"), Context())
    assert answer == {"batchItemFailures": []}
    assert _keys(aws["s3"], OUTPUT) == []  # started, nothing written yet
    started = _started_input(aws)
    assert started["input"]["source"]["key"] == "cams/walk.mp4"

    final = _run_machine(video, started)

    assert final["status"] == "anonymised"
    assert _keys(aws["s3"], OUTPUT) == ["anonymised/cams/walk.mp4", "audit/cams/walk.mp4.json"]
    assert _keys(aws["s3"], WORK) == []  # raw and anonymised segments deleted after the join
    record = json.loads(aws["s3"].get_object(Bucket=OUTPUT, Key="audit/cams/walk.mp4.json")["Body"].read())
    assert record["status"] == "anonymised"
    assert record["video"]["segments"] == 2
    assert record["frames"] == 60
    assert len(record["faces_per_frame"]) == 60
    assert min(record["faces_per_frame"]) >= 1  # the face is in every frame and masked in every frame
    assert record["tracks"] >= 2  # at least one per segment
    assert set(record["timings_ms"]) >= {"plan", "segments_sum", "segment_max", "join", "wall"}
    out = tmp_path / "out.mp4"
    aws["s3"].download_file(OUTPUT, "anonymised/cams/walk.mp4", str(out))
    before, after = read_frames(clip.path), read_frames(out)
    assert len(after) == 60
    for index, (raw, masked) in enumerate(zip(before, after, strict=True)):
        box = clip.faces[index]
        assert box is not None
        x1, y1, x2, y2 = (round(v) for v in box)
        cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
        centre = masked[cy - 10 : cy + 10, cx - 10 : cx + 10].astype(int)
        assert np.abs(centre).max() < 40, f"frame {index}: the face centre is not filled black"
        assert np.abs(raw[cy - 10 : cy + 10, cx - 10 : cx + 10].astype(int)).max() > 60  # it was a face
    import av

    with av.open(str(out)) as result:
        assert len(result.streams.audio) == 1
        assert result.streams.video[0].codec_context.name == "h264"
    # The same execution input again (a redelivery that got past the execution name): nothing is redone.
    assert _run_machine(video, started)["status"] == "duplicate"
    assert _keys(aws["s3"], WORK) == []


def test_a_retried_join_after_its_commit_is_a_duplicate(aws: dict[str, Any], tmp_path: Path) -> None:
    clip = face_clip(tmp_path / "walk.mp4", count=30, options=KEYFRAMES)
    aws["s3"].upload_file(str(clip.path), INPUT, "walk.mp4")
    queue, video = _handlers()
    queue.handler(sqs_event("walk.mp4"), Context())
    started = _started_input(aws)
    plan = video.handler({"step": "plan", **started["input"]}, Context())
    for segment in plan["segments"]:
        payload = {"step": "segment", "job": plan["job"], "source": plan["source"], "segment": segment}
        video.handler(payload, Context())
    join = {"step": "join", **{k: plan[k] for k in ("job", "request_id", "started", "source", "video", "segments")}}
    assert video.handler(join, Context())["status"] == "anonymised"
    written = aws["s3"].list_object_versions(Bucket=OUTPUT, Prefix="anonymised/")["Versions"]
    assert video.handler(join, Context())["status"] == "duplicate"
    assert aws["s3"].list_object_versions(Bucket=OUTPUT, Prefix="anonymised/")["Versions"] == written


def test_the_same_upload_twice_starts_one_execution(aws: dict[str, Any], tmp_path: Path) -> None:
    clip = face_clip(tmp_path / "walk.mp4", count=10)
    aws["s3"].upload_file(str(clip.path), INPUT, "walk.mp4")
    queue, _ = _handlers()
    queue.handler(sqs_event("walk.mp4"), Context())
    again = queue.handler(sqs_event("walk.mp4"), Context())
    assert again == {"batchItemFailures": []}
    assert len(aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]) == 1


def test_a_corrupt_video_gets_a_rejection_record_and_no_output(aws: dict[str, Any], tmp_path: Path) -> None:
    clip = face_clip(tmp_path / "walk.mp4", count=30)
    aws["s3"].put_object(Bucket=INPUT, Key="broken.mp4", Body=clip.path.read_bytes()[:300])
    queue, video = _handlers()
    queue.handler(sqs_event("broken.mp4"), Context())
    final = _run_machine(video, _started_input(aws))
    assert final["status"] == "rejected"
    assert _keys(aws["s3"], OUTPUT) == ["audit/broken.mp4.json"]
    record = json.loads(aws["s3"].get_object(Bucket=OUTPUT, Key="audit/broken.mp4.json")["Body"].read())
    assert record["status"] == "rejected"
    assert record["reason"]["error"] == "unsupported_media_type"
    assert _keys(aws["s3"], WORK) == []


def test_a_rotated_phone_video_is_rejected_before_any_segment(aws: dict[str, Any], tmp_path: Path) -> None:
    frames = [np.full((120, 160, 3), 90, np.uint8)] * 10
    write_clip(tmp_path / "phone.mov", frames, rotation=90)
    aws["s3"].upload_file(str(tmp_path / "phone.mov"), INPUT, "phone.mov")
    queue, video = _handlers()
    queue.handler(sqs_event("phone.mov"), Context())
    final = _run_machine(video, _started_input(aws))
    assert final["status"] == "rejected"
    assert _keys(aws["s3"], OUTPUT) == ["audit/phone.mov.json"]
    assert _keys(aws["s3"], WORK) == []  # the plan refused it: no segment was written


def test_one_rejected_segment_rejects_the_video_with_no_output(aws: dict[str, Any], tmp_path: Path) -> None:
    from faceanon.errors import UnsupportedVideoError

    clip = face_clip(tmp_path / "walk.mp4", count=60, options=KEYFRAMES)
    aws["s3"].upload_file(str(clip.path), INPUT, "walk.mp4")
    queue, video = _handlers()
    queue.handler(sqs_event("walk.mp4"), Context())
    real = video.anonymise_segment
    calls: list[str] = []

    def second_segment_fails(src: Path, dst: Path) -> dict[str, Any]:
        calls.append(src.name)
        if len(calls) == 2:
            raise UnsupportedVideoError("the video's frame rate varies")
        result: dict[str, Any] = real(src, dst)
        return result

    video.anonymise_segment = second_segment_fails
    final = _run_machine(video, _started_input(aws))
    assert len(calls) == 2
    assert final["status"] == "rejected"
    assert _keys(aws["s3"], OUTPUT) == ["audit/walk.mp4.json"]
    record = json.loads(aws["s3"].get_object(Bucket=OUTPUT, Key="audit/walk.mp4.json")["Body"].read())
    assert record["reason"]["message"].startswith("segment 1:")


def test_a_failing_segment_fails_the_execution_with_nothing_written(aws: dict[str, Any], tmp_path: Path) -> None:
    clip = face_clip(tmp_path / "walk.mp4", count=60, options=KEYFRAMES)
    aws["s3"].upload_file(str(clip.path), INPUT, "walk.mp4")
    queue, video = _handlers()
    queue.handler(sqs_event("walk.mp4"), Context())

    def out_of_memory(src: Path, dst: Path) -> dict[str, Any]:
        raise MemoryError

    video.anonymise_segment = out_of_memory
    with pytest.raises(MemoryError):
        _run_machine(video, _started_input(aws))
    assert _keys(aws["s3"], OUTPUT) == []  # Step Functions retries, then fails the execution: no output


@pytest.mark.parametrize(
    ("name", "codec", "environ", "error"),
    [
        ("long.mp4", "libx264", {"VIDEO_MAX_SECONDS": "1"}, "image_too_large"),  # 2 s over a 1 s limit
        ("motion-jpeg.mkv", "mjpeg", {}, "unsupported_media_type"),  # a codec faceanon does not anonymise
    ],
)
def test_videos_over_the_limits_or_in_unknown_codecs_are_parked_by_the_plan(
    aws: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    codec: str,
    environ: dict[str, str],
    error: str,
) -> None:
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)
    frames = [np.full((120, 160, 3), 90, np.uint8)] * 60
    pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
    write_clip(tmp_path / name, frames, codec=codec, pix_fmt=pix_fmt)
    aws["s3"].upload_file(str(tmp_path / name), INPUT, name)
    queue, video = _handlers()
    queue.handler(sqs_event(name), Context())
    final = _run_machine(video, _started_input(aws))
    assert final["status"] == "rejected"
    assert _keys(aws["s3"], OUTPUT) == [f"audit/{name}.json"]
    assert _keys(aws["s3"], WORK) == []
    record = json.loads(aws["s3"].get_object(Bucket=OUTPUT, Key=f"audit/{name}.json")["Body"].read())
    assert record["reason"]["error"] == error

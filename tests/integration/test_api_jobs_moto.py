"""The job flow end to end on a moto server (real HTTP, so the presigned POST's policy is checked):
POST /jobs -> a 20 MB photo uploaded with the presigned POST -> S3 notification -> SQS -> queue handler
(real decode, mask and encode; a fixed-box detector) -> GET /jobs/{id} -> the presigned download is the result.
"""

import base64
import functools
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pytest
import requests
from moto.server import ThreadedMotoServer
from PIL import Image

from faceanon.images import read_file
from faceanon.settings import Settings
from faceanon_tools.lambda_context import LocalContext
from support.api_events import load_event, response_json
from support.aws import use_detector
from support.fakes import BoxDetector
from support.handlers import load_handler
from support.sqs_records import lambda_record

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "faceanon" / "samples" / "astronaut.jpg"
REGION, INPUT, OUTPUT = "eu-west-1", "faceanon-jobs-in", "faceanon-jobs-out"
Context = functools.partial(LocalContext, function_name="AnonymiseApiFunction", aws_request_id="job-1")
BIG = 20 * 1000 * 1000
BOX = (0.3, 0.2, 0.6, 0.5, 0.95)  # fractions of the photo: the one "face"


@pytest.fixture(scope="module")
def big_png(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The sample upscaled to 2800 px with fine noise (so PNG cannot shrink it): a 20+ MB photo."""
    rng = np.random.default_rng(7)
    with Image.open(SAMPLE) as image:
        big = np.asarray(image.convert("RGB").resize((2800, 2800), Image.Resampling.BICUBIC), dtype=np.int16)
    noisy = np.clip(big + rng.integers(-40, 41, big.shape), 0, 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("big") / "big.png"
    Image.fromarray(noisy).save(path, "PNG", compress_level=1)
    data = read_file(path, 100 * 1000 * 1000)
    assert len(data) > BIG
    return data


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)  # moto's backends are per process, not per server
    use_detector(monkeypatch, BoxDetector([BOX]))
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "INPUT_BUCKET": INPUT,
        "OUTPUT_BUCKET": OUTPUT,
        "JOBS_PREFIX": "jobs/",
    }.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = setup_pipeline(s3, sqs)
    try:
        yield {
            "s3": s3,
            "sqs": sqs,
            "queue_url": queue_url,
            "api": load_handler("faceanon_lambda.api_handler"),
            "queue": load_handler("faceanon_lambda.queue_handler"),
        }
    finally:
        server.stop()


def setup_pipeline(s3: Any, sqs: Any) -> str:
    """The stack's upload path: the input bucket notifies an SQS queue; returns the queue URL."""
    for bucket in (INPUT, OUTPUT):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    url: str = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=INPUT,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    return url


def create_job(api: ModuleType, content_type: str = "image/png") -> dict[str, Any]:
    event = load_event("api_jobs_create.json")
    event["body"] = json.dumps({"content_type": content_type})
    response = api.handler(event, Context())
    assert response["statusCode"] == 201, response["body"]
    created: dict[str, Any] = response_json(response)
    return created


def job_status(api: ModuleType, job_id: str) -> tuple[int, dict[str, Any]]:
    event = load_event("api_jobs_status.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/jobs/{job_id}"
    response = api.handler(event, Context())
    return response["statusCode"], response_json(response)


def post_upload(upload: dict[str, Any], data: bytes, content_type: str) -> requests.Response:
    files = {"file": ("photo", data, content_type)}
    return requests.post(upload["url"], data=upload["fields"], files=files, timeout=60)


def run_queue(stack: dict[str, Any]) -> None:
    """What the SQS event source mapping does: hand the delivered notifications to the queue handler."""
    messages = stack["sqs"].receive_message(QueueUrl=stack["queue_url"], MaxNumberOfMessages=10)["Messages"]
    arn = f"arn:aws:sqs:{REGION}:123456789012:uploads"
    event = {"Records": [lambda_record(m, arn, REGION) for m in messages]}
    assert stack["queue"].handler(event, Context()) == {"batchItemFailures": []}


def test_a_20_mb_photo_through_the_job_flow(stack: dict[str, Any], big_png: bytes) -> None:
    api = stack["api"]
    job = create_job(api)
    upload = job["upload"]
    assert upload["max_bytes"] >= BIG
    assert job_status(api, job["job_id"]) == (200, {"job_id": job["job_id"], "status": "pending"})

    assert post_upload(upload, big_png, "image/png").status_code == 204
    run_queue(stack)

    status, state = job_status(api, job["job_id"])
    assert status == 200
    assert state["status"] == "anonymised"
    assert state["face_count"] == 1
    assert state["image"] == {"width": 2800, "height": 2800, "frames": 1}
    result = requests.get(state["download"]["url"], timeout=60)
    assert result.status_code == 200
    stored = stack["s3"].get_object(Bucket=OUTPUT, Key=f"anonymised/jobs/{job['job_id']}")["Body"].read()
    assert result.content == stored

    before = np.asarray(Image.open(io.BytesIO(big_png)).convert("RGB"))
    after = np.asarray(Image.open(io.BytesIO(result.content)).convert("RGB"))
    assert after.shape == before.shape
    x1, y1, x2, y2 = state["faces"][0]["box"]
    cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
    assert (after[cy - 50 : cy + 50, cx - 50 : cx + 50] == 0).all()  # filled black (lossless PNG)
    assert (after[2400:, 2400:] == before[2400:, 2400:]).all()  # far from the face: untouched


def test_the_presigned_post_signs_its_conditions(stack: dict[str, Any]) -> None:
    """moto accepts any POST to the bucket (it does not check the policy; S3 does): check what was signed."""
    job = create_job(stack["api"], content_type="image/jpeg")
    fields = job["upload"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert {"bucket": INPUT} in policy["conditions"]
    assert {"key": f"jobs/{job['job_id']}"} in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    assert ["content-length-range", 1, Settings().max_bytes] in policy["conditions"]
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert timedelta(seconds=0) < expires - datetime.now(UTC) <= timedelta(seconds=job["upload"]["expires_in"] + 5)
    assert fields["key"] == f"jobs/{job['job_id']}"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


def test_rejected_and_held_jobs(stack: dict[str, Any]) -> None:
    """The other engineer's audit statuses: rejected gives the reason, held_for_review gives no download."""
    api, s3 = stack["api"], stack["s3"]
    rejected, held = create_job(api)["job_id"], create_job(api)["job_id"]
    reason = {"error": "unsupported_media_type", "message": "not an image"}
    s3.put_object(
        Bucket=OUTPUT, Key=f"audit/jobs/{rejected}.json", Body=json.dumps({"status": "rejected", "reason": reason})
    )
    record = {"status": "held_for_review", "output": {"bucket": OUTPUT, "key": f"review/jobs/{held}"}, "faces": []}
    s3.put_object(Bucket=OUTPUT, Key=f"audit/jobs/{held}.json", Body=json.dumps(record))
    assert job_status(api, rejected) == (200, {"job_id": rejected, "status": "rejected", "reason": reason})
    status, state = job_status(api, held)
    assert (status, state["status"], "download" in state) == (200, "held_for_review", False)


@pytest.mark.parametrize(("job_id", "status"), [("not-a-job", 400), ("0" * 31 + "g", 400)])
def test_bad_job_ids(stack: dict[str, Any], job_id: str, status: int) -> None:
    assert job_status(stack["api"], job_id)[0] == status


def test_bad_job_requests(stack: dict[str, Any]) -> None:
    event = load_event("api_jobs_create.json")
    for body, message in (
        (json.dumps({"content_type": "text/plain"}), "image/*"),
        (json.dumps({"x": 1}), "unknown field x"),
    ):
        event["body"] = body
        response = stack["api"].handler(event, Context())
        assert response["statusCode"] == 400
        assert message in response_json(response)["message"]

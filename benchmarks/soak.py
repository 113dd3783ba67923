"""Soak: thousands of sequential invocations in one process, as a warm Lambda sees them. Prints RSS and
open file descriptors after warm-up and at the end (targets: RSS growth <= 5 %, no fd growth).

    .venv/bin/python benchmarks/soak.py                       # 2,000 invocations, real model
    .venv/bin/python benchmarks/soak.py --invocations 300 --check

The mix: the shipped sample photo at several sizes and formats (JPEG, PNG, WebP), synthetic photos (grey,
RGBA, a small animated GIF, one with EXIF GPS + maker note), and a few invalid bodies (truncated JPEG,
random bytes, a JPEG header claiming 65000 x 65000) so error paths soak too. Three calls in four go through
the API handler (JSON and raw bodies); one in four through the queue handler's per-object path with an
in-process S3 stand-in that keeps nothing (moto would itself grow with every object). The handlers load the
real detector exactly as in Lambda (the shipped model, or FACEANON_MODEL_PATH).
"""

import argparse
import base64
import contextlib
import functools
import gc
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import ClientError
from PIL import Image

from faceanon_tools.lambda_context import LocalContext

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "soak",
    "AWS_SECRET_ACCESS_KEY": "soak",
    "OUTPUT_BUCKET": "soak-output",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "FaceAnonSoak",
}


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _save(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def photos() -> list[tuple[str, bytes, str]]:
    """(name, bytes, content type) of the mix."""
    sample = Image.open(io.BytesIO(resources.files("faceanon").joinpath("samples", "astronaut.jpg").read_bytes()))
    sample = sample.convert("RGB")
    mix = []
    for side in (256, 512, 1024, 1600):
        resized = sample.resize((side, side), Image.Resampling.BILINEAR)
        mix.append((f"sample_{side}.jpg", _save(resized, "JPEG", quality=90), "image/jpeg"))
    mix.append(("sample_512.png", _save(sample, "PNG"), "image/png"))
    mix.append(("sample_768x512.webp", _save(sample.resize((768, 512)), "WEBP"), "image/webp"))
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    mix.append(("synthetic_640x480.jpg", _save(Image.fromarray(noise), "JPEG"), "image/jpeg"))
    mix.append(("synthetic_grey.png", _save(Image.fromarray(noise[:, :, 0]), "PNG"), "image/png"))
    mix.append(("synthetic_rgba.png", _save(Image.fromarray(noise).convert("RGBA"), "PNG"), "image/png"))
    frames = [Image.fromarray(np.roll(noise[:120, :160], i * 9, axis=1)).convert("P") for i in range(5)]
    mix.append(("animated.gif", _save(frames[0], "GIF", save_all=True, append_images=frames[1:]), "image/gif"))
    exif = Image.Exif()
    exif[0x010F] = "SoakCam"
    exif.get_ifd(0x8769)[0x927C] = b"M" * 60_000
    exif.get_ifd(0x8825).update({1: "N", 2: (12.0, 34.0, 56.0)})
    exif[0x0112] = 6
    mix.append(("exif_gps.jpg", _save(sample.resize((400, 300)), "JPEG", exif=exif.tobytes()), "image/jpeg"))
    jpeg = mix[1][1]
    mix.append(("truncated.jpg", jpeg[: len(jpeg) // 2], "image/jpeg"))
    mix.append(("random.jpg", rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes(), "image/jpeg"))
    huge = bytearray(jpeg)
    sof = huge.find(b"\xff\xc0")
    huge[sof + 5 : sof + 9] = (65000).to_bytes(2, "big") * 2
    mix.append(("claims_65000x65000.jpg", bytes(huge), "image/jpeg"))
    return mix


class NullS3:
    """get_object of the one current photo, NoSuchKey for audit records; writes are dropped."""

    def __init__(self) -> None:
        self.body = b""

    def get_object(self, Bucket: str, Key: str, **kwargs: Any) -> dict[str, Any]:  # noqa: N803 - boto3 names
        if Bucket == ENVIRONMENT["OUTPUT_BUCKET"]:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "no audit"}}, "GetObject")
        return {"Body": io.BytesIO(self.body), "ContentLength": len(self.body), "ETag": '"soak"'}

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        return {"ETag": '"written"'}

    def delete_object(self, **kwargs: Any) -> dict[str, Any]:
        return {}


Context = functools.partial(LocalContext, function_name="faceanon-soak", aws_request_id="soak")


def api_event(data: bytes, content_type: str, raw: bool) -> dict[str, Any]:
    encoded = base64.b64encode(data).decode()
    body = encoded if raw else json.dumps({"image": encoded})
    return {
        "httpMethod": "POST",
        "path": "/anonymise",
        "headers": {"Content-Type": content_type if raw else "application/json"},
        "queryStringParameters": None,
        "requestContext": {"requestId": "soak", "stage": "v1"},
        "body": body,
        "isBase64Encoded": raw,
    }


def sqs_event(key: str, number: int) -> dict[str, Any]:
    notification = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "soak-input"}, "object": {"key": key, "eTag": "soak", "size": 1}},
            }
        ]
    }
    return {
        "Records": [
            {
                "messageId": f"m{number}",
                "receiptHandle": "h",
                "body": json.dumps(notification),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:soak",
                "awsRegion": "eu-west-1",
            }
        ]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invocations", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200, help="invocations before the baseline is taken")
    parser.add_argument("--samples", type=int, default=10, help="RSS samples after warm-up")
    parser.add_argument("--check", action="store_true", help="exit 1 if RSS grows > 5 %% or fds grow")
    args = parser.parse_args()
    os.environ.update(ENVIRONMENT)
    report = sys.stdout
    mix = photos()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        # Imported here, with stdout sent to /dev/null: Powertools binds its log stream at import, and the
        # per-invocation JSON logs and metrics would otherwise swamp the report.
        from faceanon_lambda import api_handler, queue_handler

        s3 = NullS3()
        queue_handler.S3 = s3
        handlers: list[tuple[str, Callable[[int, tuple[str, bytes, str]], int]]] = [
            ("api-json", lambda n, p: api_handler.handler(api_event(p[1], p[2], raw=False), Context())["statusCode"]),
            ("api-raw", lambda n, p: api_handler.handler(api_event(p[1], p[2], raw=True), Context())["statusCode"]),
            ("api-json", lambda n, p: api_handler.handler(api_event(p[1], p[2], raw=False), Context())["statusCode"]),
            ("queue", lambda n, p: _queue(queue_handler, s3, n, p)),
        ]
        durations: list[float] = []
        statuses: dict[str, int] = {}
        baseline_rss = baseline_fds = 0.0
        samples: list[tuple[int, float, int]] = []
        every = max(1, (args.invocations - args.warmup) // args.samples)
        started = time.perf_counter()
        for number in range(1, args.invocations + 1):
            photo = mix[(number // len(handlers)) % len(mix)]
            kind, call = handlers[number % len(handlers)]
            began = time.perf_counter()
            status = call(number, photo)
            durations.append(time.perf_counter() - began)
            statuses[f"{kind}:{status}"] = statuses.get(f"{kind}:{status}", 0) + 1
            if number == args.warmup:
                gc.collect()
                baseline_rss, baseline_fds = rss_mib(), open_fds()
                samples.append((number, baseline_rss, int(baseline_fds)))
            elif number > args.warmup and (number - args.warmup) % every == 0:
                samples.append((number, rss_mib(), open_fds()))
        elapsed = time.perf_counter() - started
    gc.collect()
    final_rss, final_fds = rss_mib(), open_fds()
    growth = (final_rss - baseline_rss) / baseline_rss * 100
    print(f"soak: {args.invocations} invocations in {elapsed:.0f} s over {len(mix)} inputs", file=report)
    print(
        f"  per invocation: median {statistics.median(durations) * 1000:.0f} ms, "
        f"p95 {np.percentile(durations, 95) * 1000:.0f} ms",
        file=report,
    )
    print(f"  outcomes: {', '.join(f'{k} x{v}' for k, v in sorted(statuses.items()))}", file=report)
    print("  invocation    RSS MiB   open fds", file=report)
    for number, rss, fds in samples:
        print(f"  {number:>10} {rss:>10.1f} {fds:>10}", file=report)
    print(
        f"  RSS after warm-up ({args.warmup}): {baseline_rss:.1f} MiB; at the end: {final_rss:.1f} MiB; "
        f"growth {growth:+.2f} % (target <= 5 %)",
        file=report,
    )
    print(f"  open fds after warm-up: {int(baseline_fds)}; at the end: {final_fds} (target: no growth)", file=report)
    ok = growth <= 5.0 and final_fds <= baseline_fds
    print(f"  {'PASS' if ok else 'FAIL'}", file=report)
    return 0 if ok or not args.check else 1


def _queue(queue_handler: Any, s3: NullS3, number: int, photo: tuple[str, bytes, str]) -> int:
    s3.body = photo[1]
    response = queue_handler.handler(sqs_event(photo[0], number), Context())
    return 200 if not response["batchItemFailures"] else 500


if __name__ == "__main__":
    sys.exit(main())

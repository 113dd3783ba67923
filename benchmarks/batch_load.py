"""Backfill load test: the S3 Batch Operations handler, in-process, over N synthetic tasks against moto.

    .venv/bin/python benchmarks/batch_load.py                          # 20 tasks each at 2 MP and 12 MP
    .venv/bin/python benchmarks/batch_load.py --tasks 50 --sizes 4032x3024 --objects 10000000

Each task is one schema-2.0 invocation (as S3 Batch Operations sends them) of
``faceanon_lambda.batch_handler.handler`` on a distinct JPEG made from the shipped public-domain photo
(a random crop, resized to the size asked for, quality 90): HEAD, idempotency check, GET, anonymise, PUT
output with tags, PUT audit record. Everything runs on one thread with FACEANON_THREADS=1, so the figures
are per vCPU. The handler's CPU time per image (``time.process_time``) is the figure to plan with: on a
shared machine wall time also counts waiting for the CPU. moto answers S3 in-process, so real S3 latency is
added in the plan as an assumption (``--s3-latency-ms``), and so are Lambda's prices (``--price-*``).

The plan: Lambda GB-seconds = objects x (CPU s + S3 s) x memory; wall time = objects x that duration /
concurrency (S3 Batch Operations keeps up to the function's concurrency busy; the account default is 1000).
"""

import argparse
import contextlib
import functools
import io
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import numpy as np

from faceanon_tools.lambda_context import LocalContext

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "faceanon" / "samples" / "astronaut.jpg"
INPUT, OUTPUT = "faceanon-backfill-source", "faceanon-backfill-output"
# us-east-1 list prices (assumptions; check https://aws.amazon.com/lambda/pricing/ and /s3/pricing/).
PRICE_GB_S = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
PRICE_LAMBDA_REQUEST = 0.20 / 1e6
PRICE_S3_GET = 0.0004 / 1000  # HEAD, GET audit (404), GET source
PRICE_S3_PUT = 0.005 / 1000  # PUT output (with tags), PUT audit
PRICE_BATCH_OBJECT = 1.00 / 1e6  # S3 Batch Operations, per object processed (+ $0.25 per job)
NOISE_SIGMA = 4.0


@dataclass
class Sample:
    wall_ms: float
    cpu_ms: float
    anonymise_ms: float
    stages: dict[str, float]


def _environment() -> None:
    defaults = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "OUTPUT_BUCKET": OUTPUT,
        "FACEANON_THREADS": "1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_NAMESPACE": "FaceAnonBenchmark",
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    os.environ["FACEANON_THREADS"] = "1"
    sys.path.insert(0, str(ROOT / "functions"))


def synthetic_photo(size: tuple[int, int], rng: random.Random) -> bytes:
    """A distinct JPEG of ``size``: a random crop of the sample photo (keeps its face) resized up or down."""
    from PIL import Image

    with Image.open(SAMPLE) as image:
        rgb = image.convert("RGB")
    width, height = rgb.size
    left, top = rng.randint(0, width // 8), rng.randint(0, height // 8)
    right, bottom = width - rng.randint(0, width // 8), height - rng.randint(0, height // 8)
    frame = np.asarray(rgb.crop((left, top, right, bottom)).resize(size, Image.Resampling.BILINEAR), dtype=np.int16)
    # Sensor-like noise: an upscaled photo is unrealistically smooth (small files, fast decode).
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, NOISE_SIGMA, frame.shape).astype(np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(frame + noise, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def event_for(number: int, key: str) -> dict[str, Any]:
    return {
        "invocationSchemaVersion": "2.0",
        "invocationId": f"bench-invocation-{number}",
        "job": {"id": "bench-job", "userArguments": {"method": "fill", "mask_scale": "1.5"}},
        "tasks": [{"taskId": f"task-{number}", "s3Bucket": INPUT, "s3Key": quote_plus(key), "s3VersionId": None}],
    }


Context = functools.partial(LocalContext, function_name="faceanon-backfill-benchmark", aws_request_id="bench")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Swallow the handler's metric (EMF) lines on stdout."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def run_size(handler: Any, s3: Any, size: tuple[int, int], tasks: int, seed: int) -> tuple[list[Sample], int]:
    rng = random.Random(seed)
    samples: list[Sample] = []
    total_bytes = 0
    for number in range(tasks + 1):  # the first task warms caches and is not counted
        key = f"backfill/{size[0]}x{size[1]}/photo {number:05d}.jpg"
        data = synthetic_photo(size, rng)
        s3.put_object(Bucket=INPUT, Key=key, Body=data)
        wall, cpu = time.perf_counter(), time.process_time()
        with quiet():
            response = handler(event_for(number, key), Context())
        wall_ms, cpu_ms = (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000
        result = response["results"][0]
        if result["resultCode"] != "Succeeded":
            raise SystemExit(f"task {number} failed: {result}")
        audit = json.loads(s3.get_object(Bucket=OUTPUT, Key=f"audit/{key}.json")["Body"].read())
        for bucket, stored in ((INPUT, key), (OUTPUT, f"anonymised/{key}"), (OUTPUT, f"audit/{key}.json")):
            s3.delete_object(Bucket=bucket, Key=stored)  # keeps moto's memory flat
        if number:
            timings = audit["timings_ms"]
            samples.append(Sample(wall_ms, cpu_ms, timings["total"], timings))
            total_bytes += len(data)
    return samples, total_bytes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(size: tuple[int, int], samples: list[Sample], total_bytes: int, args: argparse.Namespace) -> None:
    cpu = [s.cpu_ms for s in samples]
    wall = [s.wall_ms for s in samples]
    cpu_mean = statistics.fmean(cpu)
    stages = {k: statistics.fmean(s.stages[k] for s in samples) for k in ("decode", "detect", "mask", "encode")}
    megapixels, megabytes = size[0] * size[1] / 1e6, total_bytes / len(samples) / 1e6
    print(f"\n== {size[0]}x{size[1]} ({megapixels:.1f} MP, JPEG {megabytes:.2f} MB), {len(samples)} tasks, one thread")
    print(f"  CPU per image : mean {cpu_mean:.0f} ms, p50 {percentile(cpu, 0.5):.0f}, p95 {percentile(cpu, 0.95):.0f}")
    print(f"  throughput    : {1000 / cpu_mean:.2f} images/s per vCPU ({3600_000 / cpu_mean:.0f} images/h per vCPU)")
    print(f"  wall per image: mean {statistics.fmean(wall):.0f} ms, p95 {percentile(wall, 0.95):.0f} (+ CPU waits)")
    print("  stages (wall) : " + ", ".join(f"{k} {v:.0f} ms" for k, v in stages.items()))
    duration_s = (cpu_mean + args.s3_latency_ms) / 1000
    objects = args.objects
    gb_s = objects * duration_s * args.memory_mb / 1024
    requests = objects * (PRICE_LAMBDA_REQUEST + 3 * PRICE_S3_GET + 2 * PRICE_S3_PUT + PRICE_BATCH_OBJECT)
    print(
        f"  plan for {objects:,} objects: {duration_s * 1000:.0f} ms per invocation "
        f"({cpu_mean:.0f} CPU + {args.s3_latency_ms:.0f} S3), {args.memory_mb} MB"
    )
    for concurrency in args.concurrency:
        hours = objects * duration_s / concurrency / 3600
        print(f"    concurrency {concurrency:>5}: {hours:6.1f} h wall ({objects / (hours * 3600):,.0f} objects/s)")
    for arch, price in PRICE_GB_S.items():
        compute = gb_s * price
        print(
            f"    {arch:<7}: {gb_s:,.0f} GB-s = ${compute:,.0f} compute + ${requests:,.0f} requests "
            f"(Lambda, S3, Batch Operations) = ${compute + requests:,.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20, help="tasks per size (after one warm-up task)")
    parser.add_argument("--sizes", default="1600x1200,4032x3024", help="comma-separated WxH")
    parser.add_argument("--objects", type=int, default=10_000_000, help="objects in the plan")
    parser.add_argument("--memory-mb", type=int, default=2048, help="function memory (template.yaml: 2048)")
    parser.add_argument("--s3-latency-ms", type=float, default=150.0, help="assumed real S3 time per object")
    parser.add_argument("--concurrency", default="100,500,1000", help="comma-separated concurrency levels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    _environment()

    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in (INPUT, OUTPUT):
            s3.create_bucket(Bucket=bucket)
        started = time.perf_counter()
        from faceanon_lambda import batch_handler  # init phase: imports and model load

        print(f"init (imports + model load): {(time.perf_counter() - started) * 1000:.0f} ms")
        for index, size in enumerate(sizes):
            samples, total_bytes = run_size(batch_handler.handler, s3, size, args.tasks, args.seed + index)  # type: ignore[arg-type]
            report(size, samples, total_bytes, args)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

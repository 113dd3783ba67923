"""Docker-free ``sam local invoke``: run a function of template.yaml the way Lambda does.

The handler string, code directory, layers and environment come from the template that ``sam build`` wrote
(``.aws-sam/build/template.yaml``), so a wrong handler path or a file missing from the built layer fails here
as it would in AWS. The function runs in a child process under ``awslambdaric`` (Lambda's own runtime
interface client) polling a small Runtime API stand-in on 127.0.0.1, with ``python -S`` and
``PYTHONPATH`` = the function directory, the layer's ``python/`` directory and a runtime directory holding
only what Lambda's python3.12 runtime provides (awslambdaric, boto3), so nothing leaks in from the venv.

No AWS SDK is imported here: the child process does the AWS calls (point it at moto with AWS_ENDPOINT_URL).
"""

# The docstring above is `faceanon invoke --help`. Parts: lambda_spec.py (the function of the built template),
# lambda_sandbox.py (layer architecture, the runtime directory), lambda_runtime_api.py (the Runtime API
# stand-in); here, the child process and the command.

import argparse
import base64
import json
import os
import queue
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faceanon.cli import INVOKE_HELP

from . import require_extra
from .lambda_runtime_api import Invocation, RuntimeApi, serve_runtime_api
from .lambda_sandbox import RUNTIME_PACKAGES, check_layer_architecture, runtime_dir
from .lambda_spec import FunctionSpec, InvokeError, function_spec

__all__ = [
    "BUILD_DIR",
    "RUNTIME_PACKAGES",
    "FunctionSpec",
    "Invocation",
    "InvokeError",
    "InvokeReport",
    "RuntimeApi",
    "check_layer_architecture",
    "child_environment",
    "cmd_invoke",
    "function_spec",
    "invoke",
    "register",
    "runtime_dir",
]

BUILD_DIR = Path(".aws-sam/build")


@dataclass
class InvokeReport:
    init_ms: float
    invocations: list[Invocation]
    init_error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.init_error is None and all(i.response is not None for i in self.invocations)


def child_environment(spec: FunctionSpec, api_address: str, extra: Mapping[str, str]) -> dict[str, str]:
    """Lambda's variables, the template's, the caller's AWS_* (credentials, endpoint) and explicit extras."""
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_") or k in {"PATH", "LANG", "TZ", "HOME"}}
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-west-1"
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_RUNTIME_API": api_address,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(spec.environment)
    env.update(extra)
    return env


def invoke(
    spec: FunctionSpec,
    events: Sequence[bytes],
    *,
    extra_env: Mapping[str, str] | None = None,
    python: str = sys.executable,
) -> InvokeReport:
    """Run ``events`` one after the other in one process (the first is the cold start, the rest warm)."""
    for path in (spec.code_dir, *spec.layer_dirs):
        if not path.is_dir():
            raise InvokeError(f"{path} does not exist: run `bash scripts/sam_tools.sh build` first")
    layer_paths = [p / "python" for p in spec.layer_dirs]
    for layer_python in layer_paths:
        check_layer_architecture(layer_python)
    arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{spec.name}"
    api = RuntimeApi(function_arn=arn, timeout_s=spec.timeout)
    invocations = [Invocation(str(uuid.uuid4()), event) for event in events]
    with tempfile.TemporaryDirectory(prefix="faceanon-runtime-") as tmp, serve_runtime_api(api) as address:
        runtime = runtime_dir(Path(tmp) / "runtime")
        env = child_environment(spec, address, extra_env or {})
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (spec.code_dir, *layer_paths, runtime))
        started = time.perf_counter()
        # -S: no site-packages (only what PYTHONPATH lists, as in Lambda); stdout goes to our stderr (logs).
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and a handler string from the template
            [python, "-S", "-m", "awslambdaric", spec.handler],
            cwd=spec.code_dir,
            env=env,
            stdout=sys.stderr,
            stderr=sys.stderr,
        )
        try:
            _drive(api, child, invocations, spec.timeout)
        finally:
            child.terminate()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    init_ms = (api.first_poll - started) * 1000 if api.first_poll else float("nan")
    return InvokeReport(init_ms=init_ms, invocations=invocations, init_error=api.init_error)


def _drive(api: RuntimeApi, child: "subprocess.Popen[bytes]", invocations: list[Invocation], timeout: int) -> None:
    init_deadline = time.monotonic() + 60  # Lambda allows 10 s of init; a cold local import may take longer
    while not api.first_poll:
        if api.init_error is not None or child.poll() is not None or time.monotonic() > init_deadline:
            return
        time.sleep(0.01)
    for invocation in invocations:
        api.pending.put(invocation)
        deadline = time.monotonic() + timeout
        while True:
            try:
                api.done.get(timeout=0.05)
                break
            except queue.Empty:
                if child.poll() is not None:
                    invocation.error = {"errorMessage": f"runtime exited with code {child.returncode}"}
                    return
                if time.monotonic() > deadline:
                    invocation.error = {"errorType": "TimeoutError", "errorMessage": f"timed out after {timeout} s"}
                    return


# ---------------------------------------------------------------- command line


def _save_body(response: bytes, path: Path) -> None:
    """Write the image of an API response (binary body or JSON "image" field) to ``path``."""
    payload = json.loads(response)
    body = payload.get("body", "")
    if payload.get("isBase64Encoded"):
        path.write_bytes(base64.b64decode(body))
        return
    image = json.loads(body).get("image") if body else None
    if not image:
        raise InvokeError("the response has no image to save")
    path.write_bytes(base64.b64decode(image))


def cmd_invoke(args: argparse.Namespace) -> int:
    require_extra("faceanon invoke", ("yaml", "awslambdaric", "boto3"))
    template = Path(args.template) if args.template else BUILD_DIR / "template.yaml"
    if not template.is_file():
        raise InvokeError(f"{template} not found: run `bash scripts/sam_tools.sh build` first")
    overrides = dict(item.split("=", 1) for item in args.parameter)
    spec = function_spec(template, args.function, overrides=overrides)
    extra = dict(item.split("=", 1) for item in args.env)
    for name in spec.unresolved:
        if name not in extra:
            print(f"faceanon invoke: {name} needs a deployed resource; pass --env {name}=...", file=sys.stderr)
    event = Path(args.event).read_bytes()
    report = invoke(spec, [event] * args.repeat, extra_env=extra)
    print(f"faceanon invoke: init {report.init_ms:.0f} ms (imports + model load)", file=sys.stderr)
    for number, invocation in enumerate(report.invocations, start=1):
        label = "cold" if number == 1 else "warm"
        print(f"faceanon invoke: invocation {number} ({label}) {invocation.duration_ms:.0f} ms", file=sys.stderr)
    if report.init_error is not None:
        print(json.dumps({"initError": report.init_error}, indent=2))
        return 1
    last = report.invocations[-1]
    if last.response is None:
        print(json.dumps({"invocationError": last.error}, indent=2))
        return 1
    print(last.response.decode())
    if args.save_image:
        _save_body(last.response, Path(args.save_image))
    return 0 if report.ok else 1


def register(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    invoke_parser = commands.add_parser(
        "invoke",
        help=INVOKE_HELP,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    invoke_parser.add_argument("function", help="logical id in template.yaml, e.g. AnonymiseApiFunction")
    invoke_parser.add_argument("event", help="event JSON file, e.g. events/api_json.json")
    invoke_parser.add_argument("--template", help="built template (default: .aws-sam/build/template.yaml)")
    invoke_parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra variable")
    invoke_parser.add_argument(
        "--parameter", action="append", default=[], metavar="NAME=VALUE", help="template parameter"
    )
    invoke_parser.add_argument("--repeat", type=int, default=1, help="invoke N times in one process (cold, then warm)")
    invoke_parser.add_argument("--save-image", metavar="FILE", help="write the image of an API response to FILE")
    invoke_parser.set_defaults(handler=cmd_invoke)

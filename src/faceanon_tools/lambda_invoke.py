"""Docker-free ``sam local invoke``: run a function of template.yaml the way Lambda does.

The handler string, code directory, layers and environment come from the template that ``sam build`` wrote
(``.aws-sam/build/template.yaml``), so a wrong handler path or a file missing from the built layer fails here
as it would in AWS. The function runs in a child process under ``awslambdaric`` (Lambda's own runtime
interface client) polling a small Runtime API stand-in on 127.0.0.1, with ``python -S`` and
``PYTHONPATH`` = the function directory, the layer's ``python/`` directory and a runtime directory holding
only what Lambda's python3.12 runtime provides (awslambdaric, boto3), so nothing leaks in from the venv.

No AWS SDK is imported here: the child process does the AWS calls (point it at moto with AWS_ENDPOINT_URL).
"""

import argparse
import base64
import importlib.metadata as metadata
import json
import os
import platform
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from faceanon.errors import FaceAnonError

from . import require_extra
from .template import load_template

RUNTIME_PACKAGES = ("awslambdaric", "boto3")  # what Lambda's python3.12 runtime has on its path
BUILD_DIR = Path(".aws-sam/build")
_ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64"}
_API = "/2018-06-01/runtime"


class InvokeError(FaceAnonError):
    """The function could not be found, set up or run."""


# ---------------------------------------------------------------- template (read by template.py)


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    timeout: int
    memory_mb: int
    unresolved: tuple[str, ...] = ()


def _resolve(value: Any, parameters: Mapping[str, str], region: str) -> str | None:
    """A plain value, a parameter reference or a pseudo parameter; None for anything needing a deployment."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        ref = value["Ref"]
        if ref in parameters:
            return parameters[ref]
        return {"AWS::Region": region, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}.get(ref)
    return None


def function_spec(
    template_path: Path, name: str, *, overrides: Mapping[str, str] | None = None, region: str = "eu-west-1"
) -> FunctionSpec:
    """Everything needed to run function ``name`` of a (built) template, resolved like CloudFormation would."""
    template = load_template(template_path)
    base = template_path.resolve().parent
    resources: dict[str, Any] = template["Resources"]
    resource = resources.get(name)
    if not resource or resource.get("Type") != "AWS::Serverless::Function":
        functions = sorted(k for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function")
        raise InvokeError(f"no function {name!r} in {template_path}; functions: {', '.join(functions)}")
    parameters = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
    parameters.update(overrides or {})
    globals_ = template.get("Globals", {}).get("Function", {})
    props = {**globals_, **resource.get("Properties", {})}
    variables = {
        **globals_.get("Environment", {}).get("Variables", {}),
        **resource.get("Properties", {}).get("Environment", {}).get("Variables", {}),
    }
    environment: dict[str, str] = {}
    unresolved = []
    for key, raw in variables.items():
        resolved = _resolve(raw, parameters, region)
        if resolved is None:
            unresolved.append(key)
        else:
            environment[key] = resolved
    layers = []
    for ref in props.get("Layers", []):
        layer_id = ref.get("Ref") if isinstance(ref, dict) else None
        layer = resources.get(layer_id or "", {})
        if layer.get("Type") != "AWS::Serverless::LayerVersion":
            raise InvokeError(f"{name}: layer {ref!r} is not a layer of this template")
        layers.append(base / layer["Properties"]["ContentUri"])
    handler = props.get("Handler")
    if not isinstance(handler, str):
        raise InvokeError(f"{name} has no Handler")
    return FunctionSpec(
        name=name,
        handler=handler,
        code_dir=base / str(props.get("CodeUri", ".")),
        layer_dirs=tuple(layers),
        environment=environment,
        timeout=int(props.get("Timeout", 3)),
        memory_mb=int(props.get("MemorySize", 128)),
        unresolved=tuple(unresolved),
    )


# ---------------------------------------------------------------- sandbox paths


def _elf_machine(path: Path) -> str | None:
    with path.open("rb") as handle:
        header = handle.read(20)
    if header[:4] != b"\x7fELF":
        return None
    return _ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), "other")


def check_layer_architecture(layer_python: Path) -> None:
    """Refuse a layer whose native code cannot run on this machine (e.g. an arm64 build on x86_64)."""
    host = {"arm64": "aarch64", "amd64": "x86_64"}.get(platform.machine().lower(), platform.machine().lower())
    for library in layer_python.rglob("*.so*"):
        machine = _elf_machine(library) if library.is_file() else None
        if machine is not None:
            if machine != host:
                raise InvokeError(
                    f"the built layer is {machine} and this machine is {host}: "
                    f"rebuild with `bash scripts/sam_tools.sh build` (it builds for this machine)"
                )
            return


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    names = []
    for requirement in dist.requires or []:
        if "extra ==" in requirement:
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        if match:
            names.append(match.group(0))
    return names


def _top_level(dist: metadata.Distribution) -> set[str]:
    names = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first == ".." or first.endswith((".dist-info", ".egg-info", ".pth")) or first == "__pycache__":
            continue
        names.add(first)
    return names


def runtime_dir(target: Path, packages: Sequence[str] = RUNTIME_PACKAGES) -> Path:
    """A stand-in for Lambda's /var/runtime: symlinks to awslambdaric, boto3 and their dependencies only."""
    target.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    pending = list(packages)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise InvokeError(f"{name} is not installed (pip install 'faceanon[tools]')") from exc
        site = Path(str(dist.locate_file("")))
        for top in _top_level(dist):
            link = target / top
            if not link.exists():
                link.symlink_to(site / top)
        pending.extend(_requirement_names(dist))
    return target


# ---------------------------------------------------------------- Runtime API stand-in


@dataclass
class Invocation:
    request_id: str
    event: bytes
    started: float = 0.0
    finished: float = 0.0
    response: bytes | None = None
    error: dict[str, Any] | None = None

    @property
    def duration_ms(self) -> float:
        return (self.finished - self.started) * 1000


@dataclass
class RuntimeApi:
    """Serves invocations to one runtime client over the Lambda Runtime API (2018-06-01), on 127.0.0.1."""

    function_arn: str
    timeout_s: int
    pending: "queue.Queue[Invocation]" = field(default_factory=queue.Queue)
    done: "queue.Queue[Invocation]" = field(default_factory=queue.Queue)
    first_poll: float = 0.0
    init_error: dict[str, Any] | None = None
    current: dict[str, Invocation] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{_API}/invocation/next":
                    self._reply(404)
                    return
                if not api.first_poll:
                    api.first_poll = time.perf_counter()
                while not api.stopping.is_set():
                    try:
                        invocation = api.pending.get(timeout=0.1)
                    except queue.Empty:
                        continue
                    invocation.started = time.perf_counter()
                    api.current[invocation.request_id] = invocation
                    deadline = int(time.time() * 1000) + api.timeout_s * 1000
                    headers = {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
                    }
                    self._reply(200, invocation.event, headers)
                    return
                self.close_connection = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.removeprefix(_API).strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_error = _json_or_text(body)
                    self._reply(202)
                    return
                if len(parts) == 3 and parts[0] == "invocation" and parts[1] in api.current:
                    invocation = api.current.pop(parts[1])
                    invocation.finished = time.perf_counter()
                    if parts[2] == "response":
                        invocation.response = body
                    else:
                        invocation.error = _json_or_text(body)
                    self._reply(202)
                    api.done.put(invocation)
                    return
                self._reply(404)

        return Handler


def _json_or_text(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"errorMessage": body.decode(errors="replace")}
    return parsed if isinstance(parsed, dict) else {"errorMessage": parsed}


@dataclass
class InvokeReport:
    init_ms: float
    invocations: list[Invocation]
    init_error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.init_error is None and all(i.response is not None for i in self.invocations)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the runtime is stopped mid-poll on purpose
            super().handle_error(request, client_address)


@contextmanager
def _server(api: RuntimeApi) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), api.handler_class())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        api.stopping.set()
        server.shutdown()
        server.server_close()


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
    with tempfile.TemporaryDirectory(prefix="faceanon-runtime-") as tmp, _server(api) as address:
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
        help="run a Lambda function of the SAM build on an event, without Docker",
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

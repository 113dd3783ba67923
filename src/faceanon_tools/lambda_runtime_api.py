"""A stand-in for the Lambda Runtime API (2018-06-01) on 127.0.0.1, polled by one ``awslambdaric`` client."""

import json
import queue
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_API = "/2018-06-01/runtime"


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the runtime is stopped mid-poll on purpose
            super().handle_error(request, client_address)


@contextmanager
def serve_runtime_api(api: RuntimeApi) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), api.handler_class())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        api.stopping.set()
        server.shutdown()
        server.server_close()

"""``faceanon serve``: the API on one machine, without Docker or AWS, and the demo page at ``/``.

What ``sam local start-api`` does, in-process: the routes come from ``template.yaml`` (every function with
an ``Api`` event; its ``Handler``, ``CodeUri``, environment and timeout, and the API's ``BinaryMediaTypes``).
Each request to a route becomes an API Gateway REST proxy event (method, path, headers, multiValueHeaders,
query parameters, a requestContext, and the body -- base64 with ``isBase64Encoded`` for binary media types)
and goes to *the same handler function* the Lambda runs; its proxy response (statusCode, headers, body,
isBase64Encoded) becomes the HTTP response. Like one Lambda execution environment, the server runs one
invocation at a time. A malformed response or an exception in the handler gives API Gateway's
``502 {"message": "Internal server error"}``.

The server has no authentication (the deployed API requires an API key), so it listens on loopback only
and answers only requests whose ``Host`` is a loopback name (no DNS rebinding from web pages). Requests
larger than Lambda's 6 MB payload limit are refused with 413 before they are read.
"""

import argparse
import base64
import binascii
import fnmatch
import importlib
import ipaddress
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from faceanon.errors import FaceAnonError

from . import INSTALL_HINT, require_extra
from .lambda_context import LocalContext
from .lambda_invoke import function_spec
from .template import find_template, load_template

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_BODY = 6 * 1024 * 1024  # Lambda's synchronous payload limit: a larger request could never reach it
STAGE = "local"
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

Handler = Callable[[dict[str, Any], Any], Any]

# Page assets: URL path -> (package, file in it, content type). Read from the package on every request.
STATIC: Mapping[str, tuple[str, tuple[str, ...], str]] = {
    "/": ("faceanon_tools", ("web", "index.html"), "text/html; charset=utf-8"),
    "/app.js": ("faceanon_tools", ("web", "app.js"), "text/javascript; charset=utf-8"),
    "/style.css": ("faceanon_tools", ("web", "style.css"), "text/css; charset=utf-8"),
    "/sample.jpg": ("faceanon", ("samples", "astronaut.jpg"), "image/jpeg"),
}
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class ServeError(FaceAnonError):
    """The server cannot start: no template, no API route, a handler that does not import, a public address."""


# ---------------------------------------------------------------- routes from the template


@dataclass(frozen=True)
class Route:
    """One ``Api`` event of a template function: where requests go and how the function is set up."""

    method: str  # upper case, or "ANY"
    path: str
    function: str  # logical id
    handler: str  # "module.function"
    code_dir: Path
    environment: Mapping[str, str]
    timeout_s: int
    memory_mb: int
    binary_media_types: tuple[str, ...] = ()

    def is_binary(self, content_type: str) -> bool:
        media = content_type.split(";")[0].strip().lower()
        return bool(media) and any(fnmatch.fnmatchcase(media, pattern) for pattern in self.binary_media_types)


def default_template() -> Path:
    """template.yaml of the current folder or its nearest parent that has one (run from the checkout)."""
    return find_template()


def find_routes(template_path: Path) -> list[Route]:
    """Every (method, path) of the template's REST API events, resolved like ``sam local start-api``."""
    if not template_path.is_file():
        raise ServeError(f"{template_path} not found: run from the faceanon checkout or pass --template")
    template = load_template(template_path)
    resources_: dict[str, Any] = template["Resources"]
    routes = []
    for name, resource in resources_.items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event in events.values():
            if not isinstance(event, dict) or event.get("Type") != "Api":
                continue
            props = event.get("Properties") or {}
            spec = function_spec(template_path, name)
            api_ref = props.get("RestApiId")
            api_id = api_ref.get("Ref") if isinstance(api_ref, dict) else None
            api_props = (resources_.get(str(api_id)) or {}).get("Properties") or {}
            media_types = api_props.get("BinaryMediaTypes") or template.get("Globals", {}).get("Api", {}).get(
                "BinaryMediaTypes", ()
            )
            binary = tuple(str(t).replace("~1", "/").lower() for t in media_types)
            routes.append(
                Route(
                    method=str(props.get("Method", "any")).upper(),
                    path="/" + str(props.get("Path", "/")).strip("/"),
                    function=name,
                    handler=spec.handler,
                    code_dir=spec.code_dir,
                    environment=spec.environment,
                    timeout_s=spec.timeout,
                    memory_mb=spec.memory_mb,
                    binary_media_types=binary,
                )
            )
    if not routes:
        raise ServeError(f"{template_path} has no function with an Api event")
    return routes


def apply_environment(route: Route, environ: MutableMapping[str, str] = os.environ) -> None:
    """The function's template variables (a value already set wins), and what ``sam local`` sets."""
    for name, value in {**route.environment, "AWS_SAM_LOCAL": "true"}.items():
        environ.setdefault(name, value)


def load_handler(route: Route) -> Handler:
    """Import the route's handler the way Lambda does: ``CodeUri`` on the path, then ``module.function``."""
    module_name, _, function_name = route.handler.rpartition(".")
    code_dir = str(route.code_dir.resolve())
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ServeError(
            f"cannot import {route.handler} from {code_dir}: {exc} (install the tools extra: {INSTALL_HINT})"
        ) from exc
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise ServeError(f"{route.handler}: {module_name} has no function {function_name}")
    return handler  # type: ignore[no-any-return]


# ---------------------------------------------------------------- HTTP <-> API Gateway proxy


def build_event(
    route: Route,
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    *,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
) -> dict[str, Any]:
    """The API Gateway REST proxy event (payload 1.0) for one HTTP request."""
    url = urlsplit(target)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    query = parse_qs(url.query, keep_blank_values=True)
    content_type = next((v[-1] for k, v in multi_headers.items() if k.lower() == "content-type"), "")
    binary = route.is_binary(content_type)
    if binary:
        text: str | None = base64.b64encode(body).decode("ascii")
    else:
        text = body.decode("utf-8", errors="replace")  # API Gateway passes non-binary bodies as text
    request_id = request_id or str(uuid.uuid4())
    return {
        "resource": route.path,
        "path": url.path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/{STAGE}{url.path}",
            "stage": STAGE,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "123456789012",
            "apiId": "local",
            "resourceId": "local",
            "identity": {
                "sourceIp": source_ip,
                "userAgent": multi_headers.get("User-Agent", [""])[-1],
                "apiKey": None,
            },
        },
        "body": text if body else None,
        "isBase64Encoded": binary and bool(body),
    }


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def gateway_error(status: int, message: str) -> HttpResponse:
    """API Gateway's own error shape: ``{"message": text}``."""
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status, [("Content-Type", "application/json")], body)


def to_http(response: Any) -> HttpResponse:
    """A Lambda proxy response -> HTTP; anything malformed is API Gateway's 502."""
    if not isinstance(response, dict):
        return gateway_error(502, "Internal server error")
    status = response.get("statusCode")
    headers = response.get("headers") or {}
    multi = response.get("multiValueHeaders") or {}
    body = response.get("body")
    encoded = response.get("isBase64Encoded", False)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return gateway_error(502, "Internal server error")
    valid = (
        isinstance(headers, dict)
        and isinstance(multi, dict)
        and (body is None or isinstance(body, str))
        and isinstance(encoded, bool)
    )
    if not valid:
        return gateway_error(502, "Internal server error")
    pairs: list[tuple[str, str]] = [(str(k), str(v)) for k, v in headers.items()]
    for name, values in multi.items():
        if not isinstance(values, list):
            return gateway_error(502, "Internal server error")
        pairs.extend((str(name), str(v)) for v in values)
    text = body or ""
    try:
        data = base64.b64decode(text, validate=True) if encoded else text.encode()
    except (binascii.Error, ValueError):
        return gateway_error(502, "Internal server error")
    return HttpResponse(status, pairs, data)


# ---------------------------------------------------------------- the server


@dataclass
class Endpoint:
    route: Route
    handler: Handler


class DemoServer(ThreadingHTTPServer):
    """Serves the page and the template's API routes; one handler invocation at a time (one Lambda)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], endpoints: Sequence[Endpoint], *, quiet: bool = False) -> None:
        check_loopback(address[0])
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.endpoints = list(endpoints)
        self.quiet = quiet
        self.invoke_lock = threading.Lock()
        super().__init__(address, RequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://[{name}]:{port}/" if ":" in name else f"http://{name}:{port}/"

    def find(self, method: str, path: str) -> tuple[Endpoint | None, bool]:
        """(endpoint for method and path, whether the path exists at all)."""
        on_path = [e for e in self.endpoints if e.route.path == path]
        for endpoint in on_path:
            if endpoint.route.method in (method, "ANY"):
                return endpoint, True
        return None, bool(on_path)

    def invoke(self, endpoint: Endpoint, event: dict[str, Any]) -> tuple[HttpResponse, float]:
        route = endpoint.route
        with self.invoke_lock:
            context = LocalContext(route.function, route.memory_mb, route.timeout_s, log_stream_name=STAGE)
            started = time.perf_counter()
            try:
                response = endpoint.handler(event, context)
            except Exception as exc:  # noqa: BLE001 - Lambda reports any exception as a 502 from API Gateway
                self.note(f"{route.function} raised {type(exc).__name__}")
                response = None
            elapsed = time.perf_counter() - started
        if elapsed > route.timeout_s:
            self.note(f"{route.function} took {elapsed:.1f} s, over its {route.timeout_s} s timeout")
            return gateway_error(504, "Endpoint request timed out"), elapsed
        return to_http(response), elapsed

    def note(self, line: str) -> None:
        if not self.quiet:
            print(f"faceanon serve: {line}", file=sys.stderr, flush=True)


def check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ServeError(
            f"refusing to listen on {host}: the local server has no authentication, so it binds loopback only "
            "(127.0.0.1, ::1 or localhost)"
        )


def _host_is_loopback(host_header: str | None) -> bool:
    if not host_header:
        return True  # HTTP/1.0 clients send no Host; a browser always does
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RequestHandler(BaseHTTPRequestHandler):
    server: DemoServer
    protocol_version = "HTTP/1.1"
    server_version = "faceanon-serve"

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        self.server.note(format % args)

    def _send(self, response: HttpResponse, extra: Mapping[str, str] | None = None) -> None:
        self.send_response(response.status)
        for name, value in [*response.headers, *(extra or {}).items()]:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _refuse(self, status: HTTPStatus, message: str, headers: Mapping[str, str] | None = None) -> None:
        self._send(gateway_error(status, message), headers)

    def _guard(self) -> bool:
        if not _host_is_loopback(self.headers.get("Host")):
            self.close_connection = True
            self._refuse(HTTPStatus.FORBIDDEN, "Host must be a loopback name (localhost, 127.0.0.1)")
            return False
        return True

    def do_GET(self) -> None:
        if not self._guard():
            return
        path = urlsplit(self.path).path
        asset = STATIC.get(path)
        if asset is not None:
            package, parts, content_type = asset
            data = resources.files(package).joinpath(*parts).read_bytes()
            self._send(HttpResponse(200, [("Content-Type", content_type)], data), _PAGE_HEADERS)
            return
        self._dispatch()

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 411/413/400 (the connection is then closed)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._refuse(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return None
        raw = self.headers.get("Content-Length") or "0"
        length = int(raw) if raw.isdigit() else -1
        if length < 0:
            self.close_connection = True
            self._refuse(HTTPStatus.BAD_REQUEST, "invalid Content-Length")
            return None
        if length > MAX_BODY:
            self.close_connection = True  # unread body: the connection cannot be reused
            response = json.dumps(
                {
                    "error": "payload_too_large",
                    "message": f"request is {length} bytes; Lambda accepts at most {MAX_BODY}",
                }
            ).encode()
            self._send(HttpResponse(413, [("Content-Type", "application/json")], response))
            return None
        return self.rfile.read(length)

    def _dispatch(self) -> None:
        if not self._guard():
            return
        path = urlsplit(self.path).path
        endpoint, path_known = self.server.find(self.command, path)
        if endpoint is None:
            body = self._read_body()  # drain it, so a keep-alive connection stays in step
            if body is None:
                return
            if path_known:
                allowed = sorted({e.route.method for e in self.server.endpoints if e.route.path == path})
                self._refuse(HTTPStatus.METHOD_NOT_ALLOWED, "Method Not Allowed", {"Allow": ", ".join(allowed)})
            else:
                self._refuse(HTTPStatus.NOT_FOUND, "Not Found")
            return
        body = self._read_body()
        if body is None:
            return
        event = build_event(
            endpoint.route, self.command, self.path, list(self.headers.items()), body, source_ip=self.client_address[0]
        )
        response, elapsed = self.server.invoke(endpoint, event)
        self._send(response, {"Server-Timing": f"handler;dur={elapsed * 1000:.1f}", "Cache-Control": "no-store"})


def make_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    template: Path | None = None,
    handlers: Mapping[str, Handler] | None = None,
    quiet: bool = False,
) -> DemoServer:
    """A server for the template's API routes; ``handlers`` (function logical id -> callable) replaces imports."""
    check_loopback(host)
    routes = find_routes(template or default_template())
    endpoints = []
    for route in routes:
        handler = (handlers or {}).get(route.function)
        endpoints.append(Endpoint(route, handler if handler is not None else load_handler(route)))
    try:
        return DemoServer((host, port), endpoints, quiet=quiet)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------- command line


def cmd_serve(args: argparse.Namespace) -> int:
    require_extra("faceanon serve", ("yaml", "boto3", "aws_lambda_powertools"))
    template = Path(args.template) if args.template else default_template()
    check_loopback(args.host)
    for route in find_routes(template):
        apply_environment(route)
    server = make_server(args.host, args.port, template=template, quiet=args.quiet)
    for endpoint in server.endpoints:
        route = endpoint.route
        print(f"faceanon serve: {route.method} /{route.path.lstrip('/')} -> {route.handler} ({route.function})")
    print(f"faceanon serve: demo page at {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def register(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "serve",
        help="run the API locally (template.yaml's handler, no Docker) with the demo page at /",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"loopback address to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    parser.add_argument(
        "--template", help="SAM template with the API routes (default: template.yaml here or in a parent folder)"
    )
    parser.add_argument("--quiet", action="store_true", help="no request log on stderr")
    parser.set_defaults(handler=cmd_serve)

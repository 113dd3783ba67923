"""The loopback-only HTTP server: the demo page's assets, and the API routes one invocation at a time."""

import ipaddress
import json
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from .lambda_context import LocalContext
from .serve_proxy import STAGE, HttpResponse, build_event, gateway_error, to_http
from .serve_routes import Handler, Route, ServeError

MAX_BODY = 6 * 1024 * 1024  # Lambda's synchronous payload limit: a larger request could never reach it
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

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

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

# The docstring above is `faceanon serve --help`. Parts: serve_routes.py (the template's API routes and their
# handlers), serve_proxy.py (HTTP <-> API Gateway proxy events) and serve_http.py (the loopback HTTP server);
# here, the server as a whole and the command.

import argparse
from collections.abc import Mapping
from pathlib import Path

from faceanon.cli import SERVE_HELP

from . import require_extra
from .lambda_context import LocalContext
from .serve_http import MAX_BODY, STATIC, DemoServer, Endpoint, RequestHandler, check_loopback
from .serve_proxy import STAGE, HttpResponse, build_event, gateway_error, to_http
from .serve_routes import Handler, Route, ServeError, apply_environment, default_template, find_routes, load_handler

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_BODY",
    "STAGE",
    "STATIC",
    "DemoServer",
    "Endpoint",
    "Handler",
    "HttpResponse",
    "LocalContext",
    "RequestHandler",
    "Route",
    "ServeError",
    "apply_environment",
    "build_event",
    "check_loopback",
    "cmd_serve",
    "default_template",
    "find_routes",
    "gateway_error",
    "load_handler",
    "make_server",
    "register",
    "to_http",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


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
        help=SERVE_HELP,
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

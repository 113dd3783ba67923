"""`faceanon serve` over HTTP: the page, and POST /anonymise through template.yaml's API handler.

The contract tests run the real handler (faceanon_lambda.api_handler.handler, imported the way the server
imports it) with the real detector on the shipped photo; the gateway tests use stand-in handlers.
"""

import base64
import hashlib
import http.client
import io
import json
import re
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from faceanon import cli
from faceanon.errors import FaceAnonError
from faceanon.settings import Settings
from faceanon_tools import serve
from support.handlers import load_handler

REPO = Path(__file__).resolve().parents[2]
API_FUNCTION = "AnonymiseApiFunction"


@pytest.fixture(scope="module")
def real_server(real_model_path: Path) -> Iterator[serve.DemoServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACEANON_MODEL_PATH", str(real_model_path))
        patch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        patch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        # Other tests load the handler against fakes; the server imports whatever is loaded, so cold-start it
        # here with the real detector and this environment.
        load_handler("faceanon_lambda.api_handler")
        server = serve.make_server("127.0.0.1", 0, quiet=True)
        thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server.shutdown()
            server.server_close()


Handler = Callable[[dict[str, Any], Any], Any]


class Stub:
    """The handler of a shared test server: records events and answers what ``answer`` returns."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer: Handler = self.fixed

    @staticmethod
    def fixed(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {
            "statusCode": 201,
            "headers": {"Content-Type": "application/octet-stream", "X-One": "1"},
            "multiValueHeaders": {"X-Many": ["a", "b"]},
            "body": base64.b64encode(b"\x00\xffraw").decode(),
            "isBase64Encoded": True,
        }

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        return self.answer(event, context)


def start(handlers: dict[str, Handler], template: Path | None = None) -> serve.DemoServer:
    server = serve.make_server(
        "127.0.0.1", 0, template=template or REPO / "template.yaml", handlers=handlers, quiet=True
    )
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    return server


@pytest.fixture(scope="module")
def _stub_server() -> Iterator[tuple[serve.DemoServer, Stub]]:
    stub = Stub()
    server = start({API_FUNCTION: stub})
    yield server, stub
    server.shutdown()
    server.server_close()


@pytest.fixture
def stub_server(_stub_server: tuple[serve.DemoServer, Stub]) -> tuple[serve.DemoServer, Stub]:
    """The repo template's routes with a stand-in handler (reset for each test)."""
    server, stub = _stub_server
    stub.events.clear()
    stub.answer = stub.fixed
    return server, stub


def request(
    server: serve.DemoServer, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        headers: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return response.status, headers, response.read()
    finally:
        connection.close()


def post_json(server: serve.DemoServer, payload: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    status, headers, body = request(
        server, "POST", "/anonymise", json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    return status, headers, json.loads(body)


def pixels(data: bytes) -> np.ndarray[Any, np.dtype[np.int16]]:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


# ---------------------------------------------------------------- the page


class _Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("id"):
            self.inputs[str(values["id"])] = values


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/", "text/html", b'<input id="file"'),
        ("/app.js", "text/javascript", b'fetch("anonymise"'),
        ("/style.css", "text/css", b".dropzone"),
        ("/sample.jpg", "image/jpeg", b"\xff\xd8\xff"),
    ],
)
def test_page_and_assets_are_served(
    stub_server: tuple[serve.DemoServer, Stub], path: str, content_type: str, marker: bytes
) -> None:
    server, stub = stub_server
    status, headers, body = request(server, "GET", path)
    assert status == 200
    assert headers["content-type"].startswith(content_type)
    assert marker in body
    assert "default-src 'none'" in headers["content-security-policy"]
    assert stub.events == []  # static files never reach the handler


def test_page_uses_no_external_resources(stub_server: tuple[serve.DemoServer, Stub]) -> None:
    server, _ = stub_server
    for path in ("/", "/app.js", "/style.css"):
        _, _, body = request(server, "GET", path)
        assert not re.search(rb"(src|href)=\"(https?:)?//|url\((https?:)?//|@import", body), path


def test_page_defaults_are_the_products_defaults() -> None:
    page = (REPO / "src" / "faceanon_tools" / "web" / "index.html").read_text()
    parser = _Controls()
    parser.feed(page)
    defaults = Settings()
    checked = {v["name"]: v["value"] for v in parser.inputs.values() if v.get("type") == "radio" and "checked" in v}
    assert checked == {"method": defaults.method, "shape": defaults.shape}
    assert float(str(parser.inputs["mask_scale"]["value"])) == defaults.mask_scale
    assert float(str(parser.inputs["threshold"]["value"])) == defaults.effective_threshold


# ---------------------------------------------------------------- the API contract, real handler and model


@pytest.mark.parametrize("return_boxes", [True, False])
def test_json_request_follows_the_contract(
    real_server: serve.DemoServer, sample_bytes: bytes, real_model_path: Path, return_boxes: bool
) -> None:
    payload = {"image": base64.b64encode(sample_bytes).decode(), "return_boxes": return_boxes}
    status, headers, body = post_json(real_server, payload)
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    assert {"faces", "image", "content_type", "review", "model"} <= body.keys()
    assert ("boxes" in body) is return_boxes
    assert body["faces"] >= 1
    assert body["content_type"] == "image/jpeg"
    assert isinstance(body["review"], bool)
    assert body["model"] == hashlib.sha256(real_model_path.read_bytes()).hexdigest()
    before, after = pixels(sample_bytes), pixels(base64.b64decode(body["image"]))
    assert after.shape == before.shape
    changed = np.abs(after - before).max(axis=2) > 40
    assert 0.01 < changed.mean() < 0.5  # the face was masked, the rest of the photo was not
    if return_boxes:
        assert len(body["boxes"]) == body["faces"]
        x1, y1, x2, y2 = (int(v) for v in body["boxes"][0]["box"])
        assert changed[y1:y2, x1:x2].mean() > 0.3  # the change is where the face was found


@pytest.mark.parametrize(("method", "dark"), [("fill", True), ("pixelate", False)])
def test_binary_request_returns_image_bytes(
    real_server: serve.DemoServer, sample_bytes: bytes, method: str, dark: bool
) -> None:
    status, headers, body = request(
        real_server, "POST", f"/anonymise?method={method}&shape=box", sample_bytes, {"Content-Type": "image/jpeg"}
    )
    assert status == 200
    assert headers["content-type"] == "image/jpeg"
    assert int(headers["x-faces-count"]) >= 1
    assert re.fullmatch(r"handler;dur=\d+(\.\d+)?", headers["server-timing"])
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == "JPEG"
    # The query parameters reach the handler: black fill makes the middle of the face dark, pixelation not.
    status_json, _, data = post_json(
        real_server, {"image": base64.b64encode(sample_bytes).decode(), "return_boxes": True}
    )
    assert status_json == 200
    x1, y1, x2, y2 = (int(v) for v in data["boxes"][0]["box"])
    middle = pixels(body)[(y1 + y2) // 2 - 5 : (y1 + y2) // 2 + 5, (x1 + x2) // 2 - 5 : (x1 + x2) // 2 + 5]
    assert bool(middle.mean() < 20) == dark


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"these are holiday notes, not a photo", "image/jpeg", 415, "unsupported_media_type"),
        (b"hello", "text/plain", 415, "unsupported_media_type"),
        (b"{not json", "application/json", 400, "bad_request"),
        (b'{"image": "%%%"}', "application/json", 400, "bad_request"),
        (b'{"image": "aGk=", "colour": "red"}', "application/json", 400, "bad_request"),
        (b'{"image": "aGk=", "threshold": 5}', "application/json", 400, "bad_request"),
        (b"", "image/png", 400, "bad_request"),
    ],
)
def test_bad_requests_map_to_4xx(
    real_server: serve.DemoServer, body: bytes, content_type: str, status: int, code: str
) -> None:
    got, headers, raw = request(real_server, "POST", "/anonymise", body, {"Content-Type": content_type})
    assert got == status
    assert headers["content-type"] == "application/json"
    answer = json.loads(raw)
    assert answer["error"] == code
    assert answer["message"]


def test_bad_query_parameter_is_400(real_server: serve.DemoServer, sample_bytes: bytes) -> None:
    status, _, raw = request(
        real_server, "POST", "/anonymise?method=smudge", sample_bytes, {"Content-Type": "image/jpeg"}
    )
    assert status == 400
    assert json.loads(raw)["error"] == "bad_request"


# ---------------------------------------------------------------- the gateway: events, responses, limits


def test_request_becomes_a_proxy_event(stub_server: tuple[serve.DemoServer, Stub]) -> None:
    server, stub = stub_server
    status, headers, body = request(
        server,
        "POST",
        "/anonymise?method=blur&method=fill&shape=box",
        b"\x89PNG\x00\xff",
        {"Content-Type": "image/png"},
    )
    assert status == 201
    assert body == b"\x00\xffraw"
    assert headers["x-one"] == "1"
    assert headers["x-many"] == "a, b"  # both values of a multiValueHeaders entry
    (event,) = stub.events
    assert event["httpMethod"] == "POST"
    assert event["path"] == event["resource"] == "/anonymise"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x89PNG\x00\xff"
    assert event["headers"]["Content-Type"] == "image/png"
    assert event["multiValueHeaders"]["Content-Type"] == ["image/png"]
    assert event["queryStringParameters"] == {"method": "fill", "shape": "box"}
    assert event["multiValueQueryStringParameters"] == {"method": ["blur", "fill"], "shape": ["box"]}
    context = event["requestContext"]
    assert context["httpMethod"] == "POST"
    assert context["resourcePath"] == "/anonymise"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"]


@pytest.mark.parametrize(
    ("content_type", "binary"),
    [
        ("image/jpeg", True),
        ("IMAGE/HEIC; foo=bar", True),
        ("application/json", False),
        ("application/json; charset=utf-8", False),
        ("text/plain", False),
        ("", False),
    ],
)
def test_only_binary_media_types_are_base64(content_type: str, binary: bool) -> None:
    (route,) = [r for r in serve.find_routes(REPO / "template.yaml") if (r.method, r.path) == ("POST", "/anonymise")]
    headers = [("Content-Type", content_type)] if content_type else []
    event = serve.build_event(route, "POST", "/anonymise", headers, b'{"a": "\xc3\xa9"}')
    assert event["isBase64Encoded"] is binary
    if binary:
        assert base64.b64decode(event["body"]) == b'{"a": "\xc3\xa9"}'
    else:
        assert event["body"] == '{"a": "\u00e9"}'


@pytest.mark.parametrize(
    "response",
    [
        None,
        "ok",
        {},
        {"statusCode": "200", "body": ""},
        {"statusCode": True, "body": ""},
        {"statusCode": 200, "body": b"bytes"},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
        {"statusCode": 200, "headers": ["Content-Type"]},
        {"statusCode": 200, "multiValueHeaders": {"X": "not-a-list"}},
    ],
)
def test_malformed_handler_responses_are_502(stub_server: tuple[serve.DemoServer, Stub], response: Any) -> None:
    server, stub = stub_server
    stub.answer = lambda event, context: response
    status, _, body = request(server, "POST", "/anonymise", b"{}", {"Content-Type": "application/json"})
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}


def test_handler_exception_is_502_without_details(stub_server: tuple[serve.DemoServer, Stub]) -> None:
    server, stub = stub_server

    def boom(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("secret internals at 0xdeadbeef")

    stub.answer = boom
    status, _, body = request(server, "POST", "/anonymise", b"{}", {"Content-Type": "application/json"})
    assert status == 502
    assert b"deadbeef" not in body


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/anonymise", {}, 405),
        ("PUT", "/anonymise", {}, 405),
        ("POST", "/", {}, 404),
        ("GET", "/nothing-here", {}, 404),
        ("GET", "/../pyproject.toml", {}, 404),
        ("GET", "/", {"Host": "attacker.example:8080"}, 403),
        ("POST", "/anonymise", {"Host": "192.168.1.10"}, 403),
    ],
)
def test_routing_errors(
    stub_server: tuple[serve.DemoServer, Stub],
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
) -> None:
    server, stub = stub_server
    got, answer_headers, _ = request(server, method, path, b"" if method != "GET" else None, headers)
    assert got == status
    if status == 405:
        assert answer_headers["allow"] == "POST"
    assert stub.events == []


def _raw_exchange(server: serve.DemoServer, head: bytes) -> bytes:
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), port), timeout=10) as sock:
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_oversized_request_is_413_before_reading_it(
    stub_server: tuple[serve.DemoServer, Stub],
) -> None:
    server, stub = stub_server
    head = (
        f"POST /anonymise HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
        f"Content-Length: {serve.MAX_BODY + 1}\r\n\r\n"
    ).encode()
    answer = _raw_exchange(server, head)  # the body is never sent: the server must answer without it
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"payload_too_large" in answer
    assert stub.events == []


def test_chunked_request_is_411(stub_server: tuple[serve.DemoServer, Stub]) -> None:
    server, stub = stub_server
    head = b"POST /anonymise HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert _raw_exchange(server, head).startswith(b"HTTP/1.1 411")
    assert stub.events == []


def test_one_invocation_at_a_time(stub_server: tuple[serve.DemoServer, Stub]) -> None:
    server, stub = stub_server
    active = 0
    most = 0
    lock = threading.Lock()

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return {"statusCode": 200, "body": "{}"}

    stub.answer = slow
    threads = [
        threading.Thread(
            target=request, args=(server, "POST", "/anonymise", b"{}", {"Content-Type": "application/json"})
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stub.events) == 4
    assert most == 1


# ---------------------------------------------------------------- the template drives the server


def _template(tmp_path: Path, module: str, *, timeout: int = 29, method: str = "put", path: str = "v2/mask") -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / f"{module}.py").write_text(
        "import os\n"
        "def entry(event, context):\n"
        "    return {'statusCode': 200, 'headers': {'Content-Type': 'text/plain'},\n"
        "            'body': os.environ.get('GREETING', '') + ':' + context.function_name}\n"
    )
    template = tmp_path / "template.yaml"
    template.write_text(
        textwrap.dedent(
            f"""\
            Transform: AWS::Serverless-2016-10-31
            Globals:
              Api:
                BinaryMediaTypes: ["application~1octet-stream"]
              Function:
                Runtime: python3.12
                CodeUri: code/
                Environment:
                  Variables:
                    GREETING: !Ref Greeting
            Parameters:
              Greeting: {{Type: String, Default: hello}}
            Resources:
              Worker:
                Type: AWS::Serverless::Function
                Properties:
                  Handler: {module}.entry
                  Timeout: {timeout}
                  Events:
                    Jobs: {{Type: SQS, Properties: {{Queue: arn}}}}
              Masker:
                Type: AWS::Serverless::Function
                Properties:
                  Handler: {module}.entry
                  Timeout: {timeout}
                  Events:
                    Call: {{Type: Api, Properties: {{Path: /{path}, Method: {method}}}}}
            """
        )
    )
    return template


def test_routes_handler_and_environment_come_from_the_template(tmp_path: Path) -> None:
    module = f"fake_api_{tmp_path.name.replace('-', '_')}"
    template = _template(tmp_path, module)
    (route,) = serve.find_routes(template)
    assert (route.method, route.path, route.function, route.handler) == ("PUT", "/v2/mask", "Masker", f"{module}.entry")
    assert route.code_dir.resolve() == (tmp_path / "code").resolve()
    assert route.is_binary("application/octet-stream")
    assert not route.is_binary("image/jpeg")
    environ: dict[str, str] = {}
    serve.apply_environment(route, environ)
    assert environ == {"GREETING": "hello", "AWS_SAM_LOCAL": "true"}
    preset = {"GREETING": "mine"}
    serve.apply_environment(route, preset)
    assert preset["GREETING"] == "mine"  # a value the user set wins
    handler = serve.load_handler(route)  # imported from CodeUri, as Lambda would
    assert handler({}, serve.LocalContext("Masker", 128, 3))["body"] == ":Masker"
    sys.modules.pop(module, None)


def test_repo_template_routes_post_anonymise_to_an_importable_handler() -> None:
    routes = {(r.method, r.path): r for r in serve.find_routes(REPO / "template.yaml")}
    route = routes[("POST", "/anonymise")]
    assert route.is_binary("image/webp")
    assert not route.is_binary("application/json")
    module_name, _, function = route.handler.rpartition(".")
    assert (route.code_dir.resolve() / Path(*module_name.split("."))).with_suffix(".py").is_file()
    assert function


def test_handler_over_its_timeout_is_504(tmp_path: Path) -> None:
    template = _template(tmp_path, "unused_mod", timeout=1)

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        time.sleep(1.05)
        return {"statusCode": 200, "body": "late"}

    server = start({"Masker": slow}, template)
    try:
        status, _, body = request(server, "PUT", "/v2/mask", b"")
    finally:
        server.shutdown()
        server.server_close()
    assert status == 504
    assert json.loads(body) == {"message": "Endpoint request timed out"}


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.2", "::", "example.com", ""])
def test_refuses_non_loopback_addresses(host: str) -> None:
    with pytest.raises(serve.ServeError, match="loopback"):
        serve.check_loopback(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_accepts_loopback_addresses(host: str) -> None:
    serve.check_loopback(host)


def test_cli_refuses_a_public_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_missing_template_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FaceAnonError, match="not found"):
        serve.find_routes(tmp_path / "template.yaml")


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(serve.ServeError, match=f"cannot listen on 127.0.0.1:{port}"):
            serve.make_server("127.0.0.1", port, handlers={API_FUNCTION: Stub()}, quiet=True)


# ---------------------------------------------------------------- without the tools extra


@pytest.mark.parametrize(("command", "missing"), [("serve", "yaml"), ("invoke", "yaml"), ("invoke", "awslambdaric")])
def test_tools_command_without_the_extra_exits_2_with_the_install_hint(
    command: str, missing: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # import of it raises ImportError, as when not installed
    arguments = ["serve", "--port", "0"] if command == "serve" else ["invoke", "Fn", "event.json"]
    assert cli.main(arguments) == 2
    err = capsys.readouterr().err
    assert f"faceanon {command} needs the tools extra" in err
    assert "pip install 'faceanon[tools]'" in err


def test_help_lists_the_tools_commands_without_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "serve" in out
    assert "invoke" in out


def test_default_template_is_found_in_a_parent_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "sub" / "deeper")
    assert serve.default_template() == tmp_path / "template.yaml"

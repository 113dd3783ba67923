"""A SAM template's API routes, resolved like ``sam local start-api``, and their handlers imported as Lambda does."""

import fnmatch
import importlib
import os
import sys
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faceanon.errors import FaceAnonError

from . import INSTALL_HINT
from .lambda_spec import function_spec
from .template import find_template, load_template

Handler = Callable[[dict[str, Any], Any], Any]


class ServeError(FaceAnonError):
    """The server cannot start: no template, no API route, a handler that does not import, a public address."""


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

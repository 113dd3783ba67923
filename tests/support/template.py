"""template.yaml as the tests read it: its resources, and the handler module of each event source."""

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from faceanon_tools.template import load_template
from support.handlers import load_handler

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"


def template() -> dict[str, Any]:
    """template.yaml through faceanon_tools' reader, the one ``faceanon serve`` / ``invoke`` use (tags in long form)."""
    return load_template(TEMPLATE)


def with_defaults(value: Any, overrides: dict[str, str] | None = None) -> Any:
    """``value`` with every ``Fn::If`` resolved as a deploy with the parameters' defaults (and ``overrides``)
    would resolve it; ``AWS::NoValue`` entries dropped. Conditions of the Equals/Not/And/Or kind only."""
    doc = template()
    parameters = {name: str(p.get("Default", "")) for name, p in doc["Parameters"].items()} | (overrides or {})

    def operand(item: Any) -> Any:
        return parameters[item["Ref"]] if isinstance(item, dict) and "Ref" in item else item

    def condition(name_or_expr: Any) -> bool:
        expr = doc["Conditions"][name_or_expr] if isinstance(name_or_expr, str) else name_or_expr
        ((function, args),) = expr.items()
        if function == "Fn::Equals":
            return str(operand(args[0])) == str(operand(args[1]))
        if function == "Fn::Not":
            return not condition(args[0])
        if function == "Fn::And":
            return all(condition(a) for a in args)
        if function == "Fn::Or":
            return any(condition(a) for a in args)
        if function == "Condition":
            return condition(args)
        raise ValueError(f"unsupported condition {function}")

    def resolve(item: Any) -> Any:
        if isinstance(item, dict):
            if set(item) == {"Fn::If"}:
                name, if_true, if_false = item["Fn::If"]
                return resolve(if_true if condition(name) else if_false)
            resolved = {k: resolve(v) for k, v in item.items()}
            return {k: v for k, v in resolved.items() if v != {"Ref": "AWS::NoValue"}}
        if isinstance(item, list):
            return [v for v in (resolve(v) for v in item) if v != {"Ref": "AWS::NoValue"}]
        return item

    return resolve(value)


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template()["Resources"].items() if res.get("Type") == kind}


def handler_of(event_type: str) -> tuple[str, str]:
    """(module, function) of the one serverless function with an event source of event_type (Api, SQS...)."""
    found = [
        res["Properties"]["Handler"]
        for res in resources("AWS::Serverless::Function").values()
        if any(e.get("Type") == event_type for e in res["Properties"].get("Events", {}).values())
    ]
    assert len(found) == 1, f"expected one function with a {event_type} event, found {found}"
    module, _, function = found[0].rpartition(".")
    return module, function


def code_dir() -> Path:
    """The Globals CodeUri: the directory Lambda puts on sys.path for the handlers."""
    return REPO / template()["Globals"]["Function"]["CodeUri"]


def template_handler(event_type: str) -> tuple[ModuleType, Callable[[dict[str, Any], Any], dict[str, Any]]]:
    module_name, function = handler_of(event_type)
    module = load_handler(module_name, code_dir())  # a cold start: config, clients, detector built anew
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(module, function)
    return module, handler

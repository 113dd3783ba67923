"""Run statemachine/video.asl.json in-process: the states' Lambda tasks call a handler in order.

Enough of Amazon States Language for the video machine (Task on lambda:invoke with Parameters/Payload and
OutputPath, Choice on StringEquals, Map with ItemsPath/ItemSelector/ItemProcessor and ResultPath null,
Succeed), so a test drives the real definition's data flow (which fields each step receives) instead of a
hand-written copy of it. Map items run one after another here; on AWS they run in parallel.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ASL = Path(__file__).resolve().parents[2] / "statemachine" / "video.asl.json"
Invoke = Callable[[dict[str, Any]], dict[str, Any]]


def load_definition(max_concurrency: int = 10, function_arn: str = "arn:aws:lambda:eu-west-1:1:function:v") -> Any:
    """The definition with template.yaml's DefinitionSubstitutions filled in."""
    text = ASL.read_text()
    for name, value in {
        "MaxConcurrency": str(max_concurrency),
        "VideoFunctionArn": function_arn,
        "Partition": "aws",
    }.items():
        text = text.replace("${" + name + "}", value)
    return json.loads(text)


def _path(document: Any, path: str, context: dict[str, Any]) -> Any:
    root, _, rest = path.partition(".") if not path.startswith("$$") else ("$$", "", path[3:])
    value = context if root == "$$" else document
    if path in {"$", "$$"}:
        return value
    for part in (path[2:] if root == "$" else rest).split("."):
        value = value[part]
    return value


def _fill(template: Any, document: Any, context: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        filled = {}
        for key, value in template.items():
            if key.endswith(".$"):
                filled[key[:-2]] = _path(document, value, context)
            else:
                filled[key] = _fill(value, document, context)
        return filled
    return template


def run(machine: dict[str, Any], document: Any, invoke: Invoke, context: dict[str, Any]) -> Any:
    """Follow the machine from StartAt; returns the final state's output."""
    name = machine["StartAt"]
    while True:
        state = machine["States"][name]
        kind = state["Type"]
        if kind == "Succeed":
            return document
        if kind == "Task":
            payload = _fill(state["Parameters"], document, context)
            result = {"Payload": invoke(payload["Payload"])}
            document = _path(result, state.get("OutputPath", "$"), context)
        elif kind == "Choice":
            chosen = state["Default"]
            for choice in state["Choices"]:
                if _path(document, choice["Variable"], context) == choice["StringEquals"]:
                    chosen = choice["Next"]
                    break
            name = chosen
            continue
        elif kind == "Map":
            results = []
            for index, item in enumerate(_path(document, state["ItemsPath"], context)):
                item_context = {**context, "Map": {"Item": {"Value": item, "Index": index}}}
                selected = _fill(state["ItemSelector"], document, item_context)
                results.append(run(state["ItemProcessor"], selected, invoke, item_context))
            if state.get("ResultPath", "$") != "null" and state.get("ResultPath") is not None:
                raise NotImplementedError("only ResultPath null is needed")
        else:
            raise NotImplementedError(kind)
        if state.get("End"):
            return document
        name = state["Next"]

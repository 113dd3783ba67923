"""A function of a (built) SAM template, resolved like CloudFormation would: handler, code, layers, environment."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faceanon.errors import FaceAnonError

from .template import load_template


class InvokeError(FaceAnonError):
    """The function could not be found, set up or run."""


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
    # SAM appends a function's Layers to the global ones (lists in Globals are additive), as VideoFunction's are.
    for ref in [*globals_.get("Layers", []), *resource.get("Properties", {}).get("Layers", [])]:
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

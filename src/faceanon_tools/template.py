"""The one CloudFormation / SAM template reader (``faceanon serve``, ``faceanon invoke``, the tests).

Short-form tags become CloudFormation's long form, as ``sam`` and ``cfn-lint`` read them: ``!Ref X`` is
``{"Ref": "X"}``, ``!GetAtt A.B`` is ``{"Fn::GetAtt": ["A", "B"]}``, any other ``!Name v`` is ``{"Fn::Name": v}``.
PyYAML (the ``tools`` extra) is imported on first use, so ``faceanon --help`` works without it.
"""

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faceanon.errors import FaceAnonError

if TYPE_CHECKING:
    import yaml


class TemplateError(FaceAnonError):
    """The file cannot be read, is not YAML, or is not a SAM / CloudFormation template."""


def _construct_tag(loader: "yaml.SafeLoader", suffix: str, node: "yaml.Node") -> Any:
    import yaml

    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


@cache
def cfn_loader() -> "type[yaml.SafeLoader]":
    """A SafeLoader subclass that reads CloudFormation short-form tags (``!Ref``, ``!Sub``, ``!GetAtt`` ...)."""
    import yaml

    class CfnLoader(yaml.SafeLoader):
        pass

    CfnLoader.add_multi_constructor("!", _construct_tag)
    return CfnLoader


def load_template(path: Path) -> dict[str, Any]:
    """The template at path as plain data (tags in long form); TemplateError if it is not a template."""
    import yaml

    try:
        template = yaml.load(path.read_text(), Loader=cfn_loader())  # noqa: S506 - a SafeLoader subclass
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    if not isinstance(template, dict) or "Resources" not in template:
        raise TemplateError(f"{path} is not a SAM template")
    return template


def find_template(start: Path | None = None, name: str = "template.yaml") -> Path:
    """name in start (default: the current folder) or its nearest parent that has one, else start/name."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / name).is_file():
            return folder / name
    return here / name

"""faceanon's development tools: they run on a laptop or in CI, never in Lambda (the layer does not ship them).

``faceanon serve`` (serve.py, serve_routes.py, serve_proxy.py, serve_http.py + web/: the API and demo page on
one machine), ``faceanon invoke`` (lambda_invoke.py, lambda_spec.py, lambda_sandbox.py, lambda_runtime_api.py,
lambda_context.py: Docker-free ``sam local invoke``), the one CloudFormation template reader (template.py), and
the detector's evaluation (evaluation.py re-exports datasets.py, scoring.py (WIDER one-to-one scoring) and
mask_coverage.py; face_free.py: the held-out face-free photos). Their dependencies are the ``tools`` extra:
``pip install 'faceanon[tools]'``.
"""

import importlib

from faceanon.errors import FaceAnonError

# What the tools import beyond faceanon's core, by module name -> the distribution the extra installs.
EXTRA_MODULES = {
    "yaml": "pyyaml",
    "awslambdaric": "awslambdaric",
    "boto3": "boto3",
    "aws_lambda_powertools": "aws-lambda-powertools",
}
INSTALL_HINT = "pip install 'faceanon[tools]'"


class ToolsNotInstalledError(FaceAnonError):
    """A tools command ran without the ``tools`` extra's dependencies."""


def require_extra(command: str, modules: tuple[str, ...] = tuple(EXTRA_MODULES)) -> None:
    """Raise ToolsNotInstalledError naming what is missing and how to install it (the CLI exits 2 with it)."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(EXTRA_MODULES.get(name, name))
    if missing:
        raise ToolsNotInstalledError(
            f"{command} needs the tools extra ({', '.join(missing)} not installed): {INSTALL_HINT}"
        )

"""Loading a Lambda handler module in a test as a cold start does, without purging ``sys.modules``.

The handler modules build their state at import, once per Lambda execution environment (so warm invocations
reuse it): ``SETTINGS`` and ``CONFIG`` from the environment, the detector (``service.get_detector``), the boto3
S3 client (bound to whatever endpoint, moto mock and credentials are current) and Powertools' logger and
metrics. A test that sets its own environment, fake detector or moto mock therefore needs that import to run
again once they are in place. :func:`load_handler` re-executes (``importlib.reload``) exactly the modules with
import-time state, dependencies first; the plain modules (``api``, ``batch``, ``s3_pipeline``, ``config``) are
imported once and keep their identity, so classes and functions a test imported from them stay valid.
"""

import importlib
import sys
from pathlib import Path
from types import ModuleType

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"  # template.yaml's CodeUri
# Modules that read the environment or build clients at import, in import order (the handler comes last).
STATEFUL = ("faceanon_lambda.observability",)


def load_handler(module: str, code_dir: Path = FUNCTIONS) -> ModuleType:
    """``module`` (e.g. ``faceanon_lambda.queue_handler``) imported as in a fresh Lambda execution environment.

    Call it after the test's environment, patched ``service.get_detector`` and ``mock_aws`` are in place.
    """
    code = str(code_dir)
    if code not in sys.path:  # Lambda puts CodeUri on the path
        sys.path.insert(0, code)
    for name in (*STATEFUL, module):
        loaded = sys.modules.get(name)
        if loaded is None:
            importlib.import_module(name)
        else:
            importlib.reload(loaded)
    return sys.modules[module]

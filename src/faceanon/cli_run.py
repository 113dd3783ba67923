"""The CLI commands (imported only when one runs): anonymise (cli_anonymise.py), detect (cli_detect.py), demo.

What they share: input discovery and the output policy (cli_inputs.py), the report (cli_report.py).
"""

import argparse
from importlib import resources
from pathlib import Path

from . import cli_pool, service
from .cli import ANONYMISED_SUFFIX
from .cli_anonymise import cmd_anonymise
from .cli_detect import _detect_line, cmd_detect
from .cli_inputs import STDIO, Job, check_targets, discover
from .cli_report import report_text
from .settings import Settings

__all__ = [
    "STDIO",
    "Job",
    "_detect_line",
    "check_targets",
    "cmd_anonymise",
    "cmd_demo",
    "cmd_detect",
    "discover",
    "report_text",
]


def cmd_demo(args: argparse.Namespace) -> int:
    """Anonymise the embedded sample photo and print a one-line summary."""
    settings = Settings.from_env()
    data = resources.files("faceanon").joinpath("samples", "astronaut.jpg").read_bytes()
    result = service.anonymise(data, settings)
    target = Path(args.output) / f"astronaut{ANONYMISED_SUFFIX}.jpg"
    cli_pool.write_atomically(target, result.image)
    print(
        f"faceanon demo: {result.face_count} face(s) masked ({settings.method}) in {result.timings_ms['total']:.0f} ms"
        f" -> {target}"
    )
    return 0

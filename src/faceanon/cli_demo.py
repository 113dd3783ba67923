"""``faceanon demo``: anonymise the embedded sample photo (imported only when the command runs)."""

import argparse
from importlib import resources
from pathlib import Path

from . import cli_pool, service
from .cli import ANONYMISED_SUFFIX
from .settings import Settings


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

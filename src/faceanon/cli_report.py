"""The end of an anonymise run: the JSON report (one line per file) and the summary on stderr."""

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__, cli_pool
from .cli_inputs import STDIO
from .errors import FaceAnonError
from .model import model_sha256, resolve_model_path
from .settings import Settings


def finish(args: argparse.Namespace, settings: Settings, rows: list[dict[str, Any]], started: float) -> None:
    seconds = time.perf_counter() - started
    done = [row for row in rows if row["status"] == "anonymised"]
    summary = {
        "files": len(rows),
        "anonymised": len(done),
        "skipped": sum(row["status"] == "skipped" for row in rows),
        "failed": sum(row["status"] == "failed" for row in rows),
        "faces": sum(int(row.get("face_count", 0)) for row in done),
        "review": sum(bool(row.get("review")) for row in done),
        "seconds": round(seconds, 2),
        "images_per_second": round(len(done) / seconds, 2) if seconds > 0 else 0.0,
    }
    sha = next((row.pop("model_sha256") for row in rows if "model_sha256" in row), None)
    for row in rows:
        row.pop("model_sha256", None)
    if args.report:
        header = {
            "faceanon": __version__,
            "settings": {
                "method": settings.method,
                "shape": settings.shape,
                "fill": settings.fill,
                "mask_scale": settings.mask_scale,
                "threshold": settings.effective_threshold,
                "detection": settings.detection,
            },
            "model_sha256": sha if sha is not None else _model_identity(settings),
        }
        text = report_text(header, rows, summary)
        if args.report == STDIO:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            cli_pool.write_atomically(Path(args.report), text.encode())
    if not args.quiet:
        print(
            f"faceanon: {summary['files']} file(s): {summary['anonymised']} anonymised, {summary['skipped']} skipped,"
            f" {summary['failed']} failed; {summary['faces']} face(s) masked, {summary['review']} to review;"
            f" {seconds:.1f} s ({summary['images_per_second']:.1f} images/s)",
            file=sys.stderr,
        )


def _model_identity(settings: Settings) -> str:
    try:
        return model_sha256(resolve_model_path(settings.model_path))
    except FaceAnonError:
        return "unknown"


def report_text(header: dict[str, Any], rows: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    """One JSON document, laid out one line per file record: greppable, diffable, and ~50x smaller than indent=2."""
    head = json.dumps(header)
    lines = ",\n".join(json.dumps(row) for row in rows)
    body = f'"files": [\n{lines}\n]' if rows else '"files": []'
    return f'{head[:-1]}, {body},\n"summary": {json.dumps(summary)}}}\n'

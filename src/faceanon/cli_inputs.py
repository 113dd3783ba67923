"""What the CLI commands share: input discovery and the output policy, settings from the flags, stdin, the model."""

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cli import ANONYMISED_SUFFIX
from .errors import PayloadTooLargeError
from .images import EXTENSIONS
from .model import resolve_model_path
from .settings import Settings
from .video_io import VIDEO_EXTENSIONS

STDIO = "-"


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


def discover(inputs: Sequence[str], out_dir: Path | None) -> tuple[list[Job | str], list[str]]:
    """Per input, in order: a Job, or the name of a missing input; folders are searched recursively.

    Earlier outputs are skipped: files with our suffix, and anything inside the output folder.
    Returns (items, missing).
    """
    items: list[Job | str] = []
    missing: list[str] = []
    out_resolved = out_dir.resolve() if out_dir is not None else None
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file() and _wanted(p.suffix)):
                if found.stem.endswith(ANONYMISED_SUFFIX):
                    continue
                if out_resolved is not None and found.resolve().is_relative_to(out_resolved):
                    continue
                items.append(Job(found, _target(found, found.relative_to(path), out_dir)))
        elif path.is_file():
            items.append(Job(path, _target(path, Path(path.name), out_dir)))
        else:
            items.append(name)
            missing.append(name)
    return items, missing


def _wanted(suffix: str) -> bool:
    """A photo or a video, by extension (what folders are searched for)."""
    return suffix.lower() in EXTENSIONS or suffix.lower() in VIDEO_EXTENSIONS


def _target(source: Path, relative: Path, out_dir: Path | None) -> Path:
    if out_dir is None:
        return source.with_name(f"{source.stem}{ANONYMISED_SUFFIX}{source.suffix}")
    return out_dir / relative


def check_targets(jobs: Sequence[Job]) -> dict[Path, str]:
    """Jobs that must not run: their output is an input, or another job's output (keyed by source)."""
    inputs = {job.source.resolve() for job in jobs}
    claimed: dict[Path, Path] = {}
    refused: dict[Path, str] = {}
    for job in jobs:
        target = job.target.resolve()
        if target in inputs:
            refused[job.source] = f"refusing to overwrite an input ({job.target})"
        elif target in claimed:
            refused[job.source] = f"output {job.target} would also be written for {claimed[target]}"
        else:
            claimed[target] = job.source
    return refused


def settings_for(args: argparse.Namespace, **changes: Any) -> Settings:
    detection = "fast" if args.fast else args.detection
    return Settings.from_env().override(threshold=args.threshold, detection=detection, **changes)


def read_stdin(max_bytes: int) -> bytes:
    data: bytes = sys.stdin.buffer.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"stdin has more than {max_bytes} bytes")
    return data


def check_model(settings: Settings, workers: int) -> None:
    """Before starting a pool: a missing model is one clear error (exit 2), not one per file."""
    if workers > 1:
        resolve_model_path(settings.model_path)

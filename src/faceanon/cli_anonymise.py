"""``faceanon anonymise``: files and folders (outputs keep name and format), or one image to stdout."""

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import cli_pool
from .cli_inputs import STDIO, Job, check_model, check_targets, discover, read_stdin, settings_for
from .cli_progress import Progress
from .cli_report import finish
from .cli_video import frames_between_detections
from .errors import InvalidRequestError
from .settings import Settings
from .video import is_video


def cmd_anonymise(args: argparse.Namespace) -> int:
    """Anonymise files and folders; outputs keep name and format; exit 1 if any file failed or was refused."""
    settings = settings_for(
        args,
        method=args.method,
        shape=args.shape,
        mask_scale=args.mask_scale,
        fill=args.fill,
        jpeg_quality=args.jpeg_quality,
    )
    if STDIO in args.inputs:
        if len(args.inputs) != 1:
            raise InvalidRequestError("- (stdin) must be the only input")
        if args.output not in (None, STDIO):
            raise InvalidRequestError("with - (stdin) the image goes to stdout: leave out -o (or use -o -)")
        return _anonymise_stream(args, settings, None)
    if args.output == STDIO:
        items, _ = discover(args.inputs, None)
        if len(items) != 1 or not isinstance(items[0], Job):
            raise InvalidRequestError("-o - (stdout) takes exactly one input image")
        return _anonymise_stream(args, settings, items[0].source)
    return _anonymise_files(args, settings, Path(args.output) if args.output else None)


def _anonymise_stream(args: argparse.Namespace, settings: Settings, source: Path | None) -> int:
    """One image to stdout (from stdin or a file); every message goes to stderr."""
    if sys.stdout.isatty():
        raise InvalidRequestError("refusing to write image bytes to a terminal: redirect stdout or use -o FOLDER")
    if args.report == STDIO:
        raise InvalidRequestError("--report - would mix the report into the image on stdout: give a file name")
    name = str(source) if source is not None else STDIO
    if source is not None and is_video(source):
        raise InvalidRequestError("videos are written to files only: leave out -o - (or give -o FOLDER)")
    if args.dry_run:
        print(f"{name} -> stdout", file=sys.stderr)
        return 0
    started = time.perf_counter()
    data = read_stdin(settings.max_bytes) if source is None else None
    cli_pool.init_worker(settings)
    record = cli_pool.anonymise_task(name, None, data)
    image = record.pop("image", None)
    if image is not None:
        sys.stdout.flush()
        sys.stdout.buffer.write(image)
        sys.stdout.buffer.flush()
    error = record.get("error")
    row = {"input": name, "output": STDIO if error is None else None, "status": "failed" if error else "anonymised"}
    row.update({"error": error, **record})
    if error:
        print(f"faceanon: {name}: {error}", file=sys.stderr)
    finish(args, settings, [row], started)
    return 1 if error else 0


def _anonymise_files(args: argparse.Namespace, settings: Settings, out_dir: Path | None) -> int:
    started = time.perf_counter()
    items, _ = discover(args.inputs, out_dir)
    jobs = [item for item in items if isinstance(item, Job)]
    refused = check_targets(jobs)
    skipped: set[Path] = set()
    for job in jobs:
        if job.source in refused or not job.target.exists():
            continue
        if args.skip_existing:
            skipped.add(job.source)
        elif not args.overwrite:
            refused[job.source] = f"output {job.target} exists (--overwrite replaces it, --skip-existing skips it)"
    plan = [job for job in jobs if job.source not in refused and job.source not in skipped]

    rows: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, str):
            rows.append(_row(item, None, "failed", "no such file or folder"))
        elif item.source in refused:
            rows.append(_row(str(item.source), None, "failed", refused[item.source]))
        elif item.source in skipped:
            rows.append(_row(str(item.source), str(item.target), "skipped", None))
        else:
            rows.append(_row(str(item.source), str(item.target), "anonymised", None))
    if args.dry_run:
        return _dry_run(args, items, rows)

    progress = Progress(len(plan), enabled=not args.quiet)
    for row in rows:
        if row["error"]:
            progress.write(f"faceanon: {row['input']}: {row['error']}")
    row_of = {Path(row["input"]): row for row in rows}
    workers = min(args.jobs, len(plan))
    check_model(settings, workers)
    every = frames_between_detections(getattr(args, "every", None), settings)
    keep_time = bool(getattr(args, "keep_creation_time", False))
    tasks = [(str(job.source), str(job.target), None, every, keep_time) for job in plan]
    try:
        for index, record in cli_pool.run(cli_pool.anonymise_task, tasks, settings, args.jobs):
            job = plan[index]
            row = row_of[job.source]
            if record.get("error"):
                row.update(output=None, status="failed", error=record.pop("error"))
                progress.write(f"faceanon: {job.source}: {row['error']}")
            row.update(record)
            progress.advance()
    finally:
        progress.close()
    finish(args, settings, rows, started)
    return 0 if all(row["status"] != "failed" for row in rows) else 1


def _row(source: str, output: str | None, status: str, error: str | None) -> dict[str, Any]:
    return {"input": source, "output": output, "status": status, "error": error}


def _dry_run(args: argparse.Namespace, items: Sequence[Job | str], rows: Sequence[dict[str, Any]]) -> int:
    """What a run would do, one line per file on stdout (errors on stderr); writes nothing."""
    for row in rows:
        if row["status"] == "failed":
            print(f"faceanon: {row['input']}: {row['error']}", file=sys.stderr)
        elif row["status"] == "skipped":
            print(f"skip {row['input']} ({row['output']} exists)")
        else:
            print(f"{row['input']} -> {row['output']}")
    counts = {status: sum(row["status"] == status for row in rows) for status in ("anonymised", "skipped", "failed")}
    if not args.quiet:
        print(
            f"faceanon: dry run: {counts['anonymised']} to write, {counts['skipped']} to skip,"
            f" {counts['failed']} refused or missing; nothing written",
            file=sys.stderr,
        )
    return 1 if counts["failed"] else 0

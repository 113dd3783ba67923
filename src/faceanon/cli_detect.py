"""``faceanon detect``: one line per file, in input order, with the face boxes and scores (nothing masked)."""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import cli_pool
from .cli_inputs import STDIO, Job, check_model, check_targets, discover, read_stdin, settings_for
from .cli_progress import Progress
from .errors import InvalidRequestError


def cmd_detect(args: argparse.Namespace) -> int:
    """One JSON line per file, in input order: {"file", "width", "height", "faces": [{"box", "score"}]}."""
    settings = settings_for(args)
    as_json = args.json or not sys.stdout.isatty()
    started = time.perf_counter()
    if STDIO in args.files:
        if len(args.files) != 1:
            raise InvalidRequestError("- (stdin) must be the only input")
        if args.draw_boxes:
            raise InvalidRequestError("--draw-boxes needs file inputs, not - (stdin)")
        data = read_stdin(settings.max_bytes)
        cli_pool.init_worker(settings)
        record = cli_pool.detect_task(STDIO, None, data)
        if record.get("error"):
            print(f"faceanon: -: {record['error']}", file=sys.stderr)
            return 1
        print(_detect_line(record, as_json), flush=True)
        return 0

    draw_dir = Path(args.draw_boxes) if args.draw_boxes else None
    items, _ = discover(args.files, draw_dir)
    jobs = [item for item in items if isinstance(item, Job)]
    refused = check_targets(jobs) if draw_dir is not None else {}
    progress = Progress(len(jobs), enabled=not args.quiet and len(jobs) > 1, unit="file")
    failed = 0
    for item in items:
        if isinstance(item, str):
            failed += 1
            progress.write(f"faceanon: {item}: no such file or folder")
        elif item.source in refused:
            failed += 1
            progress.write(f"faceanon: {item.source}: {refused[item.source]}")
    plan = [job for job in jobs if job.source not in refused]
    tasks = [(str(job.source), str(job.target) if draw_dir is not None else None) for job in plan]
    check_model(settings, min(args.jobs, len(plan)))
    waiting: dict[int, dict[str, Any]] = {}
    printed = faces = 0
    try:
        for index, record in cli_pool.run(cli_pool.detect_task, tasks, settings, args.jobs):
            progress.advance()
            if record.get("error"):
                failed += 1
                progress.write(f"faceanon: {plan[index].source}: {record['error']}")
                record = {}
            waiting[index] = record
            while printed in waiting:  # stream the lines in input order
                ready = waiting.pop(printed)
                printed += 1
                if ready:
                    faces += len(ready["faces"])
                    progress.write_out(_detect_line(ready, as_json))
    finally:
        progress.close()
    if not args.quiet and len(items) > 1:
        seconds = time.perf_counter() - started
        where = f"; boxes drawn into {draw_dir} (NOT anonymised)" if draw_dir is not None else ""
        print(
            f"faceanon: {len(items)} file(s), {faces} face(s) found, {failed} failed; {seconds:.1f} s{where}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _detect_line(record: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(record)
    faces = record["faces"]
    shown = ", ".join(f"[{', '.join(f'{v:.0f}' for v in face['box'])}] {face['score']:.2f}" for face in faces[:8])
    more = f", ... ({len(faces) - 8} more)" if len(faces) > 8 else ""
    listing = f": {shown}{more}" if faces else ""
    return f"{record['file']}  {record['width']}x{record['height']}  {len(faces)} face(s){listing}"

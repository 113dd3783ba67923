"""Command line: ``faceanon detect``, ``faceanon anonymise`` and friends."""

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from . import __version__, lambda_invoke, serve
from .errors import FaceAnonError, InvalidRequestError
from .images import EXTENSIONS, decode, read_file
from .service import anonymise, detect_faces, detector_sha256, get_detector
from .settings import METHODS, SHAPES, Settings


def _upright_rgb(path: Path, settings: Settings) -> npt.NDArray[np.uint8]:
    """The first frame, upright (EXIF orientation applied), decoded under the same limits as anonymise."""
    data = read_file(path, settings.max_bytes)
    return decode(data, max_pixels=settings.max_pixels, max_bytes=settings.max_bytes).frames[0]


def cmd_detect(args: argparse.Namespace) -> int:
    """One JSON object per line per file: {"file", "width", "height", "faces": [{"box", "score"}]}."""
    settings = Settings.from_env().override(threshold=args.threshold, detection="fast" if args.fast else None)
    detector = get_detector(settings)
    failed = 0
    for name in args.files:
        try:
            rgb = _upright_rgb(Path(name), settings)
            dets = detect_faces(detector, rgb, settings)
        except (OSError, FaceAnonError) as exc:
            failed += 1
            print(f"faceanon: {name}: {exc}", file=sys.stderr)
            continue
        record = {
            "file": name,
            "width": int(rgb.shape[1]),
            "height": int(rgb.shape[0]),
            "faces": [{"box": [round(float(v), 1) for v in det[:4]], "score": round(float(det[4]), 4)} for det in dets],
        }
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


ANONYMISED_SUFFIX = "_anonymised"
_PROGRESS_MIN_FILES = 50  # with stderr not a terminal (logs), a progress bar only pays off for big batches


@dataclass(frozen=True)
class _Job:
    source: Path
    target: Path


def _discover(inputs: Sequence[str], out_dir: Path | None) -> tuple[list[_Job], list[str]]:
    """Files to anonymise (folders searched recursively for image extensions) and their output paths."""
    jobs: list[_Job] = []
    errors: list[str] = []
    out_resolved = out_dir.resolve() if out_dir is not None else None
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS):
                # Skip earlier outputs: files with our suffix, and anything inside the output folder.
                if found.stem.endswith(ANONYMISED_SUFFIX):
                    continue
                if out_resolved is not None and found.resolve().is_relative_to(out_resolved):
                    continue
                relative = found.relative_to(path)
                jobs.append(_Job(found, _target(found, relative, out_dir)))
        elif path.is_file():
            jobs.append(_Job(path, _target(path, Path(path.name), out_dir)))
        else:
            errors.append(f"{name}: no such file or folder")
    return jobs, errors


def _target(source: Path, relative: Path, out_dir: Path | None) -> Path:
    if out_dir is None:
        return source.with_name(f"{source.stem}{ANONYMISED_SUFFIX}{source.suffix}")
    return out_dir / relative


def _check_targets(jobs: list[_Job]) -> dict[Path, str]:
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


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a crash never leaves a half-written image behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _progress[T](items: Sequence[T]) -> Iterable[T]:
    show = len(items) > 1 and (sys.stderr.isatty() or len(items) >= _PROGRESS_MIN_FILES)
    if not show:
        return items
    try:
        from tqdm import tqdm  # optional (a dev extra); never needed in Lambda
    except ImportError:
        return items
    bar: Iterable[T] = tqdm(items, file=sys.stderr, unit="file", mininterval=0.5 if sys.stderr.isatty() else 10)
    return bar


def cmd_anonymise(args: argparse.Namespace) -> int:
    """Anonymise files and folders; outputs keep name and format; exit 1 if any file failed."""
    settings = Settings.from_env().override(
        method=args.method,
        shape=args.shape,
        mask_scale=args.mask_scale,
        threshold=args.threshold,
        fill=args.fill,
        detection="fast" if args.fast else None,
    )
    out_dir = Path(args.output) if args.output else None
    jobs, errors = _discover(args.inputs, out_dir)
    for line in errors:
        print(f"faceanon: {line}", file=sys.stderr)
    refused = _check_targets(jobs)
    detector = get_detector(settings)
    records: list[dict[str, Any]] = []
    failed = len(errors)
    faces = 0
    for job in _progress(jobs):
        record: dict[str, Any] = {"input": str(job.source), "output": None, "error": None}
        try:
            if job.source in refused:
                raise InvalidRequestError(refused[job.source])
            data = read_file(job.source, settings.max_bytes)
            result = anonymise(data, settings, detector)
            _write_atomically(job.target, result.image)
        except (OSError, FaceAnonError) as exc:
            failed += 1
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            record["error"] = message
            print(f"faceanon: {job.source}: {message}", file=sys.stderr)
        else:
            faces += result.face_count
            record.update(output=str(job.target), ms=result.timings_ms["total"], **result.to_report())
        records.append(record)
    if args.report:
        report = {
            "faceanon": __version__,
            "settings": {
                "method": settings.method,
                "shape": settings.shape,
                "fill": settings.fill,
                "mask_scale": settings.mask_scale,
                "threshold": settings.effective_threshold,
                "detection": settings.detection,
            },
            "model_sha256": detector_sha256(detector),
            "files": records,
            "summary": {"files": len(records), "failed": failed, "faces": faces},
        }
        _write_atomically(Path(args.report), (json.dumps(report, indent=2) + "\n").encode())
    done = len(records) - (failed - len(errors))
    print(f"faceanon: anonymised {done} file(s), {faces} face(s) masked, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Anonymise the embedded sample photo and print a one-line summary."""
    settings = Settings.from_env()
    data = resources.files("faceanon").joinpath("samples", "astronaut.jpg").read_bytes()
    result = anonymise(data, settings)
    target = Path(args.output) / f"astronaut{ANONYMISED_SUFFIX}.jpg"
    _write_atomically(target, result.image)
    print(
        f"faceanon demo: {result.face_count} face(s) masked ({settings.method}) in {result.timings_ms['total']:.0f} ms"
        f" -> {target}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faceanon", description=__doc__)
    parser.add_argument("--version", action="version", version=f"faceanon {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    detect = commands.add_parser("detect", help="print the faces found in each image as JSON lines")
    detect.add_argument("files", nargs="+", metavar="FILE")
    detect.add_argument("--json", action="store_true", help="JSON lines output (the only format; kept for clarity)")
    detect.add_argument("--threshold", type=float, default=None, help="detection threshold (default: the product's)")
    detect.add_argument("--fast", action="store_true", help="faster detection, fewer small faces found")
    detect.set_defaults(handler=cmd_detect)

    anon = commands.add_parser("anonymise", help="mask every face in image files or folders (recursive)")
    anon.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    anon.add_argument(
        "-o", "--output", metavar="OUT", help=f"output folder (default: beside each input, with {ANONYMISED_SUFFIX})"
    )
    anon.add_argument("--method", choices=METHODS, default=None, help="fill (default), blur or pixelate")
    anon.add_argument("--shape", choices=SHAPES, default=None, help="ellipse (default) or box")
    anon.add_argument("--mask-scale", type=float, default=None, help="mask size relative to the face box")
    anon.add_argument("--threshold", type=float, default=None, help="detection threshold (default: the product's)")
    anon.add_argument("--fill", default=None, help="fill colour: a name, #rrggbb or noise (default black)")
    anon.add_argument("--report", metavar="REPORT.json", help="write a JSON report (faces, boxes, model, ms, errors)")
    anon.add_argument("--fast", action="store_true", help="faster detection, fewer small faces found")
    anon.set_defaults(handler=cmd_anonymise)

    demo = commands.add_parser("demo", help="anonymise the embedded sample photo into out/")
    demo.add_argument("-o", "--output", default="out", metavar="OUT", help="output folder (default: out)")
    demo.set_defaults(handler=cmd_demo)
    lambda_invoke.register(commands)  # faceanon invoke FUNCTION EVENT.json (Docker-free sam local invoke)
    serve.register(commands)  # faceanon serve: the API (template.yaml's handler) and the demo page
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except FaceAnonError as exc:
        print(f"faceanon: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())

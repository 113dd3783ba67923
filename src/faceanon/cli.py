"""Command line: ``faceanon detect``, ``faceanon anonymise`` and friends."""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from . import __version__
from .detector import CenterFaceDetector
from .errors import FaceAnonError
from .settings import Settings


def _upright_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def cmd_detect(args: argparse.Namespace) -> int:
    """One JSON object per line per file: {"file", "width", "height", "faces": [{"box", "score"}]}."""
    settings = Settings.from_env().override(threshold=args.threshold)
    detector = CenterFaceDetector(settings.model_path, intra_op_threads=settings.intra_op_threads)
    failed = 0
    for name in args.files:
        try:
            rgb = _upright_rgb(Path(name))
            dets = detector.detect(rgb, threshold=settings.threshold)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faceanon", description=__doc__)
    parser.add_argument("--version", action="version", version=f"faceanon {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    detect = commands.add_parser("detect", help="print the faces found in each image as JSON lines")
    detect.add_argument("files", nargs="+", metavar="FILE")
    detect.add_argument("--json", action="store_true", help="JSON lines output (the only format; kept for clarity)")
    detect.add_argument("--threshold", type=float, default=None, help="detection threshold (default: the product's)")
    detect.set_defaults(handler=cmd_detect)
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

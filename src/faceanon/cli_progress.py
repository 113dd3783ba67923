"""A small progress bar on stderr that messages never break (no dependency: the CLI must start fast).

On a terminal it redraws one line (at most 10 times a second) and clears it before each message, then
draws it again below. Piped into a log, it writes a plain line now and then (every 10% of the files, at
most every few seconds), so long batch runs still show progress without a screen of carriage returns.
"""

import sys
import time
from typing import TextIO

_TTY_INTERVAL = 0.1  # s between redraws on a terminal
_LOG_INTERVAL = 5.0  # s at least between lines in a log
_WIDTH = 24  # bar cells


class Progress:
    def __init__(self, total: int, *, enabled: bool, stream: TextIO | None = None, unit: str = "file") -> None:
        self.total = total
        self.done = 0
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 1
        self.tty = self.enabled and _isatty(self.stream)
        self.started = time.perf_counter()
        self._drawn = False
        self._last_draw = self.started  # in a log, the first line only after _LOG_INTERVAL
        self._last_log_step = 0

    def write(self, message: str) -> None:
        """Print a message line (errors, notices) without tearing the bar."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
        self.stream.write(message + "\n")
        if self._drawn:
            self._draw()
        self.stream.flush()

    def write_out(self, line: str) -> None:
        """Print a line of output on stdout; the bar (on stderr, maybe the same terminal) is cleared around it."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        if self._drawn:
            self._draw()
            self.stream.flush()

    def advance(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.tty:
            if not self._drawn or now - self._last_draw >= _TTY_INTERVAL or self.done >= self.total:
                self._draw()
                self.stream.flush()
            return
        step = self.done * 10 // max(self.total, 1)
        if step > self._last_log_step and self.done < self.total and now - self._last_draw >= _LOG_INTERVAL:
            self._last_log_step = step
            self._last_draw = now
            self.stream.write(f"faceanon: {self.line()}\n")
            self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else None
        eta = f", {_duration(left)} left" if left is not None and self.done < self.total else ""
        percent = 100 * self.done // max(self.total, 1)
        return f"{self.done}/{self.total} {self.unit}s ({percent}%), {rate:.1f}/s{eta}"

    def _draw(self) -> None:
        filled = _WIDTH * self.done // max(self.total, 1)
        bar = "#" * filled + "-" * (_WIDTH - filled)
        self.stream.write(f"\r\x1b[K[{bar}] {self.line()}")
        self._drawn = True
        self._last_draw = time.perf_counter()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

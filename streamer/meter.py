"""A live terminal meter: one status line rewritten in place, only when the output is a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from streamer.update import StreamInfo, Update

_BAR_HALF = 10


def _bar(value: float) -> str:
    """A 21-character bar for a value in [-1, 1]: ``|`` marks 0, ``#`` fills from 0 to the value."""
    steps = max(-_BAR_HALF, min(_BAR_HALF, round(value * _BAR_HALF)))
    cells = ["-"] * (2 * _BAR_HALF + 1)
    low, high = sorted((_BAR_HALF, _BAR_HALF + steps))
    for i in range(low, high + 1):
        cells[i] = "#"
    cells[_BAR_HALF] = "|"
    return "".join(cells)


class TerminalMeter:
    """Shows the latest update on one line: the first update at once, then at most every ``interval_s``
    seconds of wall time.

    Args:
        stream: where to write (a terminal).
        interval_s: minimum wall time between two redraws.
        clock: monotonic clock in seconds (its origin is arbitrary: only differences are used).
    """

    def __init__(self, stream: TextIO, interval_s: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._interval = interval_s
        self._clock = clock
        self._last: float | None = None
        self._drawn = False

    @staticmethod
    def wanted(stream: TextIO = sys.stdout) -> bool:
        """True when ``stream`` is an interactive terminal."""
        isatty = getattr(stream, "isatty", None)
        return bool(isatty and isatty())

    def begin(self, info: StreamInfo) -> None:
        """Nothing to set up."""

    def emit(self, update: Update) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        line = (
            f"\r{update.time:8.1f} s  V {update.valence:+.2f} {_bar(update.valence)}  "
            f"A {update.arousal:+.2f} {_bar(update.arousal)}  "
            f"p(V high) {update.p_high_valence:.2f}  p(A high) {update.p_high_arousal:.2f}  "
            f"{1000 * update.compute_s:5.2f} ms"
        )
        self._stream.write(line)
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()

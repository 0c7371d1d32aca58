"""Bounded-memory statistics of durations: count, mean, maximum and percentiles from a log histogram."""

from __future__ import annotations

import math

import numpy as np

_LOW_S = 1e-6
_HIGH_S = 100.0
_BINS = 1400  # 200 bins per decade: a percentile is known to within 1.2 %


class DurationStats:
    """Accumulates durations in seconds in fixed memory (a histogram with logarithmic bins, 1 µs .. 100 s).

    Percentiles are the geometric centre of the bin holding the requested rank (relative error < 0.6 %);
    the mean and maximum are exact.
    """

    def __init__(self) -> None:
        self._counts = np.zeros(_BINS + 2, dtype=np.int64)  # + underflow and overflow bins
        self._scale = _BINS / math.log(_HIGH_S / _LOW_S)
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        """Record one duration."""
        self.count += 1
        self.total += seconds
        if seconds > self.max:
            self.max = seconds
        if seconds <= _LOW_S:
            index = 0
        else:
            index = min(_BINS + 1, 1 + int(math.log(seconds / _LOW_S) * self._scale))
        self._counts[index] += 1

    @property
    def mean(self) -> float:
        """Mean duration in seconds (0 when empty)."""
        return self.total / self.count if self.count else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0..100) in seconds (0 when empty)."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(q / 100.0 * self.count))
        index = int(np.searchsorted(np.cumsum(self._counts), rank))
        if index == 0:
            return _LOW_S
        if index == _BINS + 1:
            return self.max
        centre = _LOW_S * math.exp((index - 0.5) / self._scale)
        return min(centre, self.max)

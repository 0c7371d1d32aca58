"""Optional smoothing of the engine's outputs: a one-pole low-pass per value, in audio time.

For each value ``x`` (valence, arousal, p(high valence), p(high arousal)) the output is
``y[n] = y[n-1] + (1 - exp(-dt / tau)) * (x[n] - y[n-1])`` with ``dt`` the audio time since the previous
update (so the output also catches up over skipped audio) and ``tau`` the time constant in seconds: after
``tau`` seconds a step has moved 63 % of the way, after ``3 tau`` 95 %. The first update passes through
unchanged. ``tau = 0`` turns smoothing off: the output is the model's output, bit for bit.
"""

from __future__ import annotations

import math


class OnePoleSmoother:
    """One-pole low-pass over a fixed number of values.

    Args:
        time_constant_s: ``tau`` in seconds of audio, >= 0 (0 = off).
        n_values: how many values are smoothed together.
    """

    def __init__(self, time_constant_s: float, n_values: int) -> None:
        if time_constant_s < 0:
            raise ValueError(f"smoothing time constant must be >= 0 s, got {time_constant_s}")
        self.time_constant_s = float(time_constant_s)
        self._state = [0.0] * n_values
        self._last_time: float | None = None

    @property
    def enabled(self) -> bool:
        """False when the time constant is 0 (outputs pass through unchanged)."""
        return self.time_constant_s > 0

    def reset(self) -> None:
        """Forget the past: the next update passes through unchanged."""
        self._last_time = None

    def __call__(self, time_s: float, values: list[float]) -> list[float]:
        """Smooth ``values`` (modified in place and returned) for an update at audio time ``time_s``."""
        if not self.enabled:
            return values
        state = self._state
        if self._last_time is None:
            state[:] = values
        else:
            alpha = 1.0 - math.exp(-max(0.0, time_s - self._last_time) / self.time_constant_s)
            for i, x in enumerate(values):
                state[i] += alpha * (x - state[i])
            values[:] = state
        self._last_time = time_s
        return values

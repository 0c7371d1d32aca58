"""Resampling of a source to the model's rate, with an end of stream.

:class:`damer_core.features.resample.ResampleStream` emits an output block of torchaudio's sinc resampler
as soon as all of its input has arrived. A finite input (a file, a pipe that closes, a ``--duration``
limit) also has an end: torchaudio pads it with ``width + p`` zeros and keeps ``ceil(n * new / orig)``
samples. :meth:`SourceResampler.flush` does the same, so the concatenated streamed output equals
``torchaudio.functional.resample`` of the whole input, whatever the block sizes (up to float rounding,
~1e-7; the kernel is torchaudio's, computed in float64).

torchaudio's kernel bank has ``q`` kernels of ``p + 2 * width`` taps, where ``p/q`` is the rate ratio in
lowest terms: for the usual rates (8 to 768 kHz into 22050 Hz) at most about 0.8 M coefficients, but a rate
such as 44101 Hz (44101/22050 has no common factor) would need 22050 kernels of 44127 taps, 7.8 GB. Beyond
:data:`MAX_KERNEL_TAPS` coefficients, the conversion uses the nearest ratio of smaller terms instead
(:func:`practical_ratio`; 44101 Hz is converted as 2:1, 23 ppm slow, which no feature can tell).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from damer_core.features.resample import PolyphaseResample, ResampleFilter, ResampleStream

MAX_KERNEL_TAPS = 1 << 21
"""Largest kernel bank (coefficients, ``q * (p + 2 * width)``) built for an exact rate ratio."""


def kernel_taps(p: int, q: int, lowpass: ResampleFilter = ResampleFilter()) -> int:
    """Coefficients of torchaudio's kernel bank for ``p`` input to ``q`` output samples (lowest terms)."""
    width = math.ceil(lowpass.lowpass_filter_width * p / (min(p, q) * lowpass.rolloff))
    return q * (p + 2 * width)


def practical_ratio(orig_freq: int, new_freq: int) -> tuple[int, int]:
    """``(p, q)``: ``orig_freq/new_freq`` in lowest terms, or, when its kernel bank would exceed
    :data:`MAX_KERNEL_TAPS`, the closest ratio ``p/q`` whose bank fits (continued-fraction approximation of
    ``new_freq/orig_freq`` with a bounded ``p``)."""
    g = math.gcd(orig_freq, new_freq)
    p, q = orig_freq // g, new_freq // g
    bound = p
    while kernel_taps(p, q) > MAX_KERNEL_TAPS:
        bound //= 2
        approximation = Fraction(new_freq, orig_freq).limit_denominator(bound)
        p, q = approximation.denominator, approximation.numerator
    return p, q


class SourceResampler:
    """Streams ``orig_freq`` Hz mono float32 audio to ``new_freq`` Hz (integer rates, different), at the
    ratio :func:`practical_ratio` gives (the exact one for every usual rate).

    State: the wrapped stream's pending input plus the counts of input samples seen and output samples
    emitted. ``reset()`` starts a new stream.
    """

    def __init__(self, orig_freq: int, new_freq: int) -> None:
        self.orig_freq = int(orig_freq)
        self.new_freq = int(new_freq)
        self._p, self._q = practical_ratio(self.orig_freq, self.new_freq)
        self._stream = ResampleStream(self._p, self._q, dtype=np.float32)
        constants = PolyphaseResample(self._p, self._q)
        # torchaudio's right padding: enough zeros to complete every block that touches the input.
        self._tail = np.zeros(constants.width + constants.stride, dtype=np.float32)
        self.latency_samples = constants.width + constants.stride
        """Input samples an output block waits for beyond its own start (``width + orig/g``)."""
        self.reset()

    def reset(self) -> None:
        """Forget all input: the next sample pushed is sample 0 of a new stream."""
        self._stream.reset()
        self._n_in = 0
        self._n_out = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Consume ``samples`` (``(n,)`` float32, finite) and return the completed output ``(m,)``."""
        self._n_in += samples.shape[0]
        out = self._stream.push(samples)
        self._n_out += out.shape[0]
        return out

    def flush(self) -> np.ndarray:
        """End of stream: the remaining output, so that the total length is ``ceil(n_in * q / p)``
        (``ceil(n_in * new / orig)`` for an exact ratio)."""
        out = self._stream.push(self._tail)
        target = -(-self._n_in * self._q // self._p)
        out = out[: max(0, target - self._n_out)]
        self.reset()
        return out

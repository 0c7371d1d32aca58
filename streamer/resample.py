"""Resampling of a source to the model's rate, with an end of stream.

:class:`damer_core.features.resample.ResampleStream` emits an output block of torchaudio's sinc resampler
as soon as all of its input has arrived. A finite input (a file, a pipe that closes, a ``--duration``
limit) also has an end: torchaudio pads it with ``width + p`` zeros and keeps ``ceil(n * new / orig)``
samples. :meth:`SourceResampler.flush` does the same, so the concatenated streamed output equals
``torchaudio.functional.resample`` of the whole input, whatever the block sizes (up to float rounding,
~1e-7; the kernel is torchaudio's, computed in float64).
"""

from __future__ import annotations

import numpy as np

from damer_core.features.resample import PolyphaseResample, ResampleStream


class SourceResampler:
    """Streams ``orig_freq`` Hz mono float32 audio to ``new_freq`` Hz (integer rates, different).

    State: the wrapped stream's pending input plus the counts of input samples seen and output samples
    emitted. ``reset()`` starts a new stream.
    """

    def __init__(self, orig_freq: int, new_freq: int) -> None:
        self.orig_freq = int(orig_freq)
        self.new_freq = int(new_freq)
        self._stream = ResampleStream(self.orig_freq, self.new_freq, dtype=np.float32)
        constants = PolyphaseResample(self.orig_freq, self.new_freq)
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
        """End of stream: the remaining output, so that the total length is ``ceil(n_in * new / orig)``."""
        out = self._stream.push(self._tail)
        target = -(-self._n_in * self.new_freq // self.orig_freq)
        out = out[: max(0, target - self._n_out)]
        self.reset()
        return out

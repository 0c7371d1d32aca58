"""Band-limited resampling (torchaudio's windowed-sinc polyphase filter), offline and streaming alike.

``torchaudio.functional.resample(x, orig, new)`` reduces the rates by their gcd to ``p = orig/g`` input and
``q = new/g`` output samples per block, pads ``x`` with ``width`` zeros in front and convolves it at stride
``p`` with ``q`` kernels of ``K = 2*width + p`` taps: output block ``j`` (samples ``[j*q, (j+1)*q)``) reads the
input samples ``[j*p - width, j*p - width + K)``. Here a block is produced only once all of its input has
arrived, so the output over a signal of ``n`` samples is the first ``q * complete_blocks(n + width)`` of
torchaudio's (which pads the end with zeros instead of waiting), and a stream fed the same samples in any
block sizes produces exactly that. Latency: the last sample of block ``j`` needs input up to
``j*p + p + width - 1``, i.e. at most ``p + width`` samples of the input rate beyond its own time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio

from damer_core.features.signal import check_mono_block
from damer_core.spec import require

_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


@dataclass(frozen=True)
class ResampleFilter:
    """The anti-aliasing filter, in ``torchaudio.functional.resample``'s terms (its defaults here).

    Attributes:
        method: ``"sinc_interp_hann"`` or ``"sinc_interp_kaiser"``.
        lowpass_filter_width: zero crossings of the sinc on each side (longer = sharper, slower).
        rolloff: cut-off as a fraction of the lower Nyquist frequency.
        beta: Kaiser window shape (``None``: torchaudio's default); unused by the Hann method.
    """

    method: str = "sinc_interp_hann"
    lowpass_filter_width: int = 6
    rolloff: float = 0.99
    beta: float | None = None

    def __post_init__(self) -> None:
        methods = ("sinc_interp_hann", "sinc_interp_kaiser")
        require(self.method in methods, "method", " or ".join(methods), self.method)
        require(self.lowpass_filter_width > 0, "lowpass_filter_width", "> 0", self.lowpass_filter_width)
        require(0 < self.rolloff <= 1, "rolloff", "in (0, 1]", self.rolloff)


class PolyphaseResample(torch.nn.Module):
    """The kernel bank of ``torchaudio.transforms.Resample`` applied to whole blocks only.

    Buffers: ``kernel`` ``(q, 1, K)`` computed in float64 by torchaudio, stored in ``dtype``.

    ``forward(padded)`` takes ``(..., n)`` input already preceded by ``width`` zeros (or by the real samples
    that stand there in a stream) and returns ``(..., q * ((n - K) // p + 1))`` output samples (none when
    ``n < K``).
    """

    kernel: torch.Tensor

    def __init__(
        self,
        orig_freq: int,
        new_freq: int,
        lowpass: ResampleFilter = ResampleFilter(),
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        rates_ok = all(isinstance(rate, int) and rate > 0 for rate in (orig_freq, new_freq)) and orig_freq != new_freq
        require(rates_ok, "sample rates", "two different positive integers (Hz)", (orig_freq, new_freq))
        reference = torchaudio.transforms.Resample(
            orig_freq,
            new_freq,
            resampling_method=lowpass.method,
            lowpass_filter_width=lowpass.lowpass_filter_width,
            rolloff=lowpass.rolloff,
            beta=lowpass.beta,
            dtype=torch.float64,
        )
        self.orig_freq = orig_freq
        self.new_freq = new_freq
        self.stride = orig_freq // reference.gcd
        self.width = int(reference.width)
        self.register_buffer("kernel", reference.kernel.to(dtype), persistent=False)

    @property
    def taps(self) -> int:
        """Kernel length ``K`` in input samples."""
        return int(self.kernel.shape[-1])

    def complete_blocks(self, n_padded: int) -> int:
        """Number of output blocks whose whole input lies within ``n_padded`` padded input samples."""
        return 0 if n_padded < self.taps else (n_padded - self.taps) // self.stride + 1

    def forward(self, padded: torch.Tensor) -> torch.Tensor:
        n_blocks = self.complete_blocks(padded.shape[-1])
        batch = padded.shape[:-1]
        if n_blocks == 0:
            return padded.new_zeros(*batch, 0)
        used = (n_blocks - 1) * self.stride + self.taps
        signals = padded[..., :used].reshape(-1, 1, used)
        blocks = torch.nn.functional.conv1d(signals, self.kernel, stride=self.stride)  # (N, q, n_blocks)
        return blocks.transpose(1, 2).reshape(*batch, -1)


def resample_complete(
    audio: np.ndarray,
    orig_freq: int,
    new_freq: int,
    lowpass: ResampleFilter = ResampleFilter(),
    dtype: type[np.floating] = np.float32,
) -> np.ndarray:
    """Offline resampling of a whole mono signal, keeping only blocks whose input is complete.

    Args:
        audio: shape ``(n,)`` at ``orig_freq`` Hz, floating point.
        orig_freq, new_freq: integer sample rates in Hz, different.
        lowpass: the anti-aliasing filter.
        dtype: computation and output dtype (``np.float32`` or ``np.float64``).

    Returns:
        Shape ``(q * complete_blocks(n + width),)``: a prefix of ``torchaudio.functional.resample(audio)``.
    """
    block = check_mono_block(audio, dtype)
    transform = PolyphaseResample(orig_freq, new_freq, lowpass, _TORCH_DTYPES[np.dtype(dtype)])
    padded = np.concatenate([np.zeros(transform.width, dtype=block.dtype), block])
    with torch.no_grad():
        return transform(torch.from_numpy(padded)).numpy()


class ResampleStream:
    """Incremental :func:`resample_complete`: push blocks of any size, get the output completed so far.

    State: the padded input that later output blocks still read (fewer than ``K`` samples after a push).
    ``reset()`` clears it; ``get_state()``/``set_state()`` snapshot and restore it.
    """

    def __init__(
        self,
        orig_freq: int,
        new_freq: int,
        lowpass: ResampleFilter = ResampleFilter(),
        dtype: type[np.floating] = np.float32,
    ) -> None:
        self.dtype = np.dtype(dtype)
        self._transform = PolyphaseResample(orig_freq, new_freq, lowpass, _TORCH_DTYPES[self.dtype])
        self.reset()

    @property
    def orig_freq(self) -> int:
        return self._transform.orig_freq

    @property
    def new_freq(self) -> int:
        return self._transform.new_freq

    def output_samples(self, n_input: int) -> int:
        """Output samples the stream has produced once ``n_input`` input samples have been pushed in total."""
        return int(self._transform.kernel.shape[0]) * self._transform.complete_blocks(n_input + self._transform.width)

    def reset(self) -> None:
        """Forget all audio: the next sample pushed is sample 0 of a new stream."""
        self._pending = np.zeros(self._transform.width, dtype=self.dtype)

    def get_state(self) -> dict[str, np.ndarray]:
        """A copy of the streaming state."""
        return {"pending": self._pending.copy()}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._pending = np.asarray(state["pending"], dtype=self.dtype).copy()

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Consume ``samples`` (shape ``(n,)`` at ``orig_freq``) and return the new output samples ``(m,)``."""
        block = check_mono_block(samples, self.dtype)
        padded = np.concatenate([self._pending, block])
        n_blocks = self._transform.complete_blocks(padded.size)
        if n_blocks == 0:
            self._pending = padded
            return np.zeros(0, dtype=self.dtype)
        with torch.no_grad():
            out = self._transform(torch.from_numpy(padded)).numpy()
        self._pending = padded[n_blocks * self._transform.stride :].copy()
        return out

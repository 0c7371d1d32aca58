"""Log-Mel view: an offline transform over a whole signal and an incremental streaming version.

Both share :class:`LogMel`, so streamed frames are the offline frames computed over the same samples.
Frame ``t`` covers samples ``[t*hop, t*hop + win_length)`` (left-aligned, no centring), windowed by a
periodic Hann window, power spectrum of an ``n_fft = win_length`` real FFT, a torchaudio Mel filterbank,
then ``log(max(power, log_floor))``. A frame comes out bit for bit the same whether it is computed
offline or streamed in blocks of any size.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio

from damer_core.features.filterbank import BandedFilterbank
from damer_core.features.signal import check_mono_block
from damer_core.spec import FeatureSpec

_TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


class LogMel(torch.nn.Module):
    """Log-Mel spectrogram of left-aligned frames.

    Buffer: ``window`` (win_length,). The Mel filterbank (win_length // 2 + 1 bins -> n_mels) is applied by a
    :class:`~damer_core.features.filterbank.BandedFilterbank`, so a frame's values never depend on the
    block it was computed in or the thread count. CPU only.

    Call with audio of shape ``(..., n_samples)``; returns ``(..., n_frames, n_mels)`` with
    ``n_frames = spec.n_frames(n_samples)``.
    """

    window: torch.Tensor

    def __init__(self, spec: FeatureSpec, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.spec = spec
        window = torch.hann_window(spec.win_length, periodic=True, dtype=torch.float64)
        filterbank = torchaudio.functional.melscale_fbanks(
            n_freqs=spec.n_fft // 2 + 1,
            f_min=spec.mel.f_min,
            f_max=spec.mel_f_max,
            n_mels=spec.mel.n_mels,
            sample_rate=spec.sample_rate,
            norm=spec.mel.norm,
            mel_scale=spec.mel.mel_scale,
        )
        self.register_buffer("window", window.to(dtype), persistent=False)
        self.bands = BandedFilterbank(filterbank, dtype)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = self.spec
        if audio.shape[-1] < spec.win_length:
            return audio.new_zeros(*audio.shape[:-1], 0, spec.mel.n_mels)
        frames = audio.unfold(-1, spec.win_length, spec.hop) * self.window
        power = torch.fft.rfft(frames, n=spec.n_fft).abs().pow(2)
        return torch.log(torch.clamp(self.bands(power), min=spec.mel.log_floor))


def log_mel(audio: np.ndarray, spec: FeatureSpec, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """Offline log-Mel of a whole mono signal.

    Args:
        audio: shape ``(n_samples,)`` at ``spec.sample_rate``, floating point.
        spec: the feature spec.
        dtype: computation and output dtype (``np.float32`` or ``np.float64``).

    Returns:
        Array of shape ``(spec.n_frames(n_samples), n_mels)`` and dtype ``dtype``.
    """
    block = check_mono_block(audio, dtype)
    transform = LogMel(spec, _TORCH_DTYPES[np.dtype(dtype)])
    with torch.inference_mode():
        return transform(torch.from_numpy(block)).numpy()


class MelStream:
    """Incremental log-Mel: push blocks of any size, get the frames completed so far.

    State: the last ``win_length - hop`` (at most) samples not yet consumed by a whole frame and the number
    of samples seen. ``reset()`` clears it; ``get_state()``/``set_state()`` snapshot and restore it.
    """

    def __init__(self, spec: FeatureSpec, dtype: type[np.floating] = np.float32) -> None:
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self._transform = LogMel(spec, _TORCH_DTYPES[self.dtype])
        self.reset()

    def reset(self) -> None:
        """Forget all audio: the next sample pushed is sample 0 of a new stream."""
        self._pending = np.zeros(0, dtype=self.dtype)

    def get_state(self) -> dict[str, np.ndarray]:
        """A copy of the streaming state."""
        return {"pending": self._pending.copy()}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._pending = np.asarray(state["pending"], dtype=self.dtype).copy()

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Consume ``samples`` (shape ``(n,)``) and return the newly completed frames, ``(k, n_mels)``."""
        block = check_mono_block(samples, self.dtype)
        buffered = np.concatenate([self._pending, block]) if self._pending.size else block
        n_frames = self.spec.n_frames(buffered.size)
        if n_frames == 0:
            self._pending = buffered.copy()
            return np.zeros((0, self.spec.mel.n_mels), dtype=self.dtype)
        with torch.inference_mode():
            frames = self._transform(torch.from_numpy(buffered)).numpy()
        self._pending = buffered[n_frames * self.spec.hop :].copy()
        return frames

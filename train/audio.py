"""Decoding audio files for training: soundfile decoding, channel averaging, torchaudio resampling.

Resampling uses :func:`torchaudio.functional.resample` with its defaults (windowed-sinc, Hann window,
``lowpass_filter_width=6``, ``rolloff=0.99``): content above 99 % of the lower Nyquist frequency is removed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio

from damer_core.errors import AudioError


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Decode ``path`` (any format soundfile reads: wav, flac, ogg, opus, mp3) to mono at ``sample_rate``.

    Channels are averaged; the signal is resampled when the file's rate differs.

    Returns:
        float32 array of shape ``(n_samples,)`` at ``sample_rate`` Hz, nominally in [-1, 1].

    Raises:
        AudioError: the file is missing, unreadable, not audio, corrupt, holds no samples or holds
            non-finite samples; the message names the file.
    """
    try:
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, OSError) as exc:
        raise AudioError(f"{path}: cannot decode audio ({exc})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no audio samples")
    mono = data.mean(axis=1, dtype=np.float32)
    if not np.isfinite(mono).all():
        raise AudioError(f"{path}: the file holds non-finite samples")
    if file_rate != sample_rate:
        with torch.no_grad():
            mono = torchaudio.functional.resample(torch.from_numpy(mono), file_rate, sample_rate).numpy()
    return np.ascontiguousarray(mono, dtype=np.float32)

"""Log-Mel view against torchaudio's MelSpectrogram (center=False) followed by the same log."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torchaudio

from damer_core.features.mel import log_mel
from damer_core.spec import CochleagramSpec, FeatureSpec, MelSpec

SPECS = [
    FeatureSpec(),
    FeatureSpec(mel=MelSpec(n_mels=64, f_min=30.0, f_max=8000.0, mel_scale="slaney", norm="slaney")),
    FeatureSpec(
        sample_rate=16000,
        hop=160,
        win_length=480,
        mel=MelSpec(n_mels=40, f_min=20.0, log_floor=1e-8),
        cochleagram=CochleagramSpec(f_max=7000.0),
    ),
]


def torchaudio_log_mel(audio: np.ndarray, spec: FeatureSpec, dtype: torch.dtype) -> np.ndarray:
    """``(n_frames, n_mels)`` from torchaudio; its window is built in ``dtype`` so float64 is float64 end to end."""
    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=spec.sample_rate,
        n_fft=spec.win_length,
        win_length=spec.win_length,
        hop_length=spec.hop,
        f_min=spec.mel.f_min,
        f_max=spec.mel.f_max,
        n_mels=spec.mel.n_mels,
        power=2.0,
        center=False,
        norm=spec.mel.norm,
        mel_scale=spec.mel.mel_scale,
        window_fn=torch.hann_window,
        wkwargs={"dtype": dtype},
    ).to(dtype)
    with torch.no_grad():
        power = transform(torch.from_numpy(audio))
    return torch.log(torch.clamp(power, min=spec.mel.log_floor)).T.numpy()


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize(
    ("dtype", "torch_dtype", "tolerance"), [(np.float32, torch.float32, 1e-5), (np.float64, torch.float64, 1e-10)]
)
def test_log_mel_equals_torchaudio(spec, dtype, torch_dtype, tolerance, music):
    audio = music.astype(dtype)
    expected = torchaudio_log_mel(audio, spec, torch_dtype)
    actual = log_mel(audio, spec, dtype)
    assert actual.dtype == dtype
    assert actual.shape == (spec.n_frames(audio.size), spec.mel.n_mels) == expected.shape
    # Absolute error of the natural log = relative error of the power.
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance)


def test_log_floor_is_applied_to_silence():
    spec = dataclasses.replace(FeatureSpec(), mel=MelSpec(log_floor=1e-4))
    frames = log_mel(np.zeros(4096, dtype=np.float32), spec)
    assert frames.shape == (9, 128)
    np.testing.assert_array_equal(frames, np.log(np.float32(1e-4)))


def test_shorter_than_one_window_gives_no_frames():
    spec = FeatureSpec()
    assert log_mel(np.zeros(spec.win_length - 1), spec).shape == (0, spec.mel.n_mels)

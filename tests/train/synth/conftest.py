"""Shared helpers for the synthetic-music tests: a plain section to vary one cue at a time, the SoundFont
the rendering tests need (skipped with the reason when FluidSynth or the SoundFont is missing), and an
independent tempo estimator for rendered audio."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from train.synth.plan import Section

TIMGM6MB = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")

BASE_SECTION = Section(
    tempo_bpm=100.0,
    major=True,
    dissonance=0.0,
    velocity=80.0,
    dynamics=0.0,
    register=66.0,
    staccato=0.8,
    density=2.0,
    ensemble="piano",
    percussion=False,
)


@pytest.fixture
def make_section() -> Callable[..., Section]:
    """``make_section(**changes)``: :data:`BASE_SECTION` with some cues changed."""

    def make(**changes) -> Section:
        return dataclasses.replace(BASE_SECTION, **changes)

    return make


@pytest.fixture
def soundfont() -> Path:
    """TimGM6mb (Debian timgm6mb-soundfont), the SoundFont that `make test` installs."""
    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth is not installed (Debian package 'fluidsynth')")
    if not TIMGM6MB.is_file():
        pytest.skip(f"{TIMGM6MB} is missing (Debian package 'timgm6mb-soundfont')")
    return TIMGM6MB


def tempo_from_onsets(
    audio: np.ndarray, sample_rate: int = 22050, low_bpm: float = 50.0, high_bpm: float = 200.0
) -> float:
    """Tempo in bpm from the autocorrelation of a spectral-flux onset envelope (hop 256), with the peak
    lag refined by a parabola through its neighbours."""
    hop = 256
    _, _, spectrum = signal.stft(audio, fs=sample_rate, nperseg=1024, noverlap=1024 - hop, boundary=None, padded=False)
    magnitude = np.log1p(100.0 * np.abs(spectrum))
    flux = np.maximum(np.diff(magnitude, axis=1), 0.0).sum(axis=0)
    flux -= flux.mean()
    autocorrelation = signal.correlate(flux, flux, mode="full", method="fft")[len(flux) - 1 :]
    frame_rate = sample_rate / hop
    lags = np.arange(len(autocorrelation)) / frame_rate
    window = np.flatnonzero((lags >= 60.0 / high_bpm) & (lags <= 60.0 / low_bpm))
    i = window[np.argmax(autocorrelation[window])]
    left, centre, right = autocorrelation[i - 1 : i + 2]
    offset = 0.5 * (left - right) / (left - 2.0 * centre + right)
    return 60.0 * frame_rate / (i + offset)


@pytest.fixture
def estimate_tempo() -> Callable[..., float]:
    """:func:`tempo_from_onsets`: ``estimate_tempo(audio, sample_rate=22050) -> bpm``."""
    return tempo_from_onsets

"""Seeded fixtures shared by the whole test suite."""

from __future__ import annotations

import numpy as np
import pytest

SAMPLE_RATE = 22050


@pytest.fixture
def rng() -> np.random.Generator:
    """A freshly seeded random generator (the same numbers in every test)."""
    return np.random.default_rng(20240611)


@pytest.fixture
def music(rng: np.random.Generator) -> np.ndarray:
    """0.75 s of a music-like float64 signal at 22050 Hz, peak below 1: decaying tones from 55 Hz to
    7 kHz, a little noise, then 0.1 s of digital silence (exercises the log floors and decaying state)."""
    n = int(0.75 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    frequencies = (55.0, 220.0, 987.8, 3520.0, 7000.0)
    tones = sum(np.sin(2 * np.pi * f * t + phase) for f, phase in zip(frequencies, rng.uniform(0, 6, 5)))
    audio = 0.15 * tones * np.exp(-2.0 * t) + 0.03 * rng.standard_normal(n)
    audio[-SAMPLE_RATE // 10 :] = 0.0
    return audio

"""Seeded fixtures shared by the whole test suite: random signals, a small random model bundle, WAV files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from damer_core.bundle import random_bundle
from damer_core.model import ModelConfig

SAMPLE_RATE = 22050

SMALL_MODEL = ModelConfig(
    d_model=32,
    n_heads=2,
    frames_per_token=2,
    encoder_blocks=2,
    dsaf_blocks=1,
    fusion_window_tokens=8,
    temporal_layers=1,
    window_tokens=24,
    embed_dim=16,
    device="cpu",
)


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


@pytest.fixture(scope="session")
def bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised (seeded) small DAMER bundle; its outputs mean nothing but are deterministic."""
    return random_bundle(tmp_path_factory.mktemp("bundle") / "small.safetensors", seed=3, config=SMALL_MODEL)


@pytest.fixture
def write_wav(tmp_path: Path):
    """Write ``audio`` (``(n,)`` or ``(n, channels)``) as a float WAV at ``rate``; returns the path."""

    def write(name: str, audio: np.ndarray, rate: int) -> Path:
        path = tmp_path / name
        soundfile.write(str(path), audio, rate, subtype="FLOAT")
        return path

    return write

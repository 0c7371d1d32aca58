"""Fixtures for the training package's tests: short generated audio files in any soundfile format. The
working folder of the tiny training recipe (``tiny_run_dir``) and ``one_torch_thread`` are shared with the
robustness tests (``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile


def tone(seconds: float, sample_rate: int, frequency: float = 440.0, seed: int = 0) -> np.ndarray:
    """A 0.3-amplitude sine plus a little seeded white noise, float32 ``(n,)``."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * frequency * t) + 0.01 * noise).astype(np.float32)


@pytest.fixture
def write_audio() -> Callable[..., Path]:
    """``write_audio(path, seconds=0.3, sample_rate=22050, frequency=440.0, seed=0)`` writes a mono tone
    (format from the extension: .wav float, .flac, .ogg, .mp3) creating parent folders; returns the path."""

    def write(
        path: Path, seconds: float = 0.3, sample_rate: int = 22050, frequency: float = 440.0, seed: int = 0
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        subtype = "FLOAT" if path.suffix == ".wav" else None
        soundfile.write(path, tone(seconds, sample_rate, frequency, seed), sample_rate, subtype=subtype)
        return path

    return write

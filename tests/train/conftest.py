"""Fixtures for the training package's tests: short generated audio files in any soundfile format, and a
working folder of labelled and unlabelled clips for the tiny training recipe."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch


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


def emotion_tone(valence: float, arousal: float, seconds: float, sample_rate: int = 22050, seed: int = 0) -> np.ndarray:
    """Audio whose features follow its labels: pitch rises with valence (110-440 Hz), loudness, brightness
    and pulse rate rise with arousal; float32 ``(n,)``."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    f0 = 220.0 * 2.0**valence
    level = (arousal + 1.0) / 2.0
    pulse = 0.6 + 0.4 * np.sign(np.sin(2 * np.pi * (1.0 + 6.0 * level) * t))
    tone = np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(4 * np.pi * f0 * t) + level * np.sin(8 * np.pi * f0 * t)
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return ((0.05 + 0.2 * level) * pulse * tone / 2.5 + 0.005 * noise).astype(np.float32)


TINY_RECIPE = Path(__file__).resolve().parent / "tiny.yaml"


@pytest.fixture
def tiny_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder for ``tests/train/tiny.yaml`` (copied in as ``recipe.yaml``), made the current
    directory and the data root: 12 labelled 2 s clips (3 per quadrant, one with dynamic labels) and 2 unlabelled ones."""
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    rows = ["path,valence,arousal,time,group"]
    corners = [(0.7, 0.6), (-0.6, 0.7), (-0.7, -0.6), (0.6, -0.7)]
    for i in range(12):
        valence, arousal = corners[i % 4]
        valence, arousal = valence * (0.8 + 0.1 * (i // 4)), arousal * (0.8 + 0.1 * (i // 4))
        name = f"clip{i:02d}.wav"
        soundfile.write(labelled / name, emotion_tone(valence, arousal, 2.0, seed=i), 22050, subtype="FLOAT")
        if i == 0:
            rows += [f"{name},{valence},{arousal},{time},g{i}" for time in (0.0, 1.0, 2.0)]
        else:
            rows.append(f"{name},{valence:.3f},{arousal:.3f},,g{i}")
    (labelled / "labels.csv").write_text("\n".join(rows) + "\n")
    for i, (valence, arousal) in enumerate([(0.5, 0.5), (-0.5, -0.5)]):
        path = tmp_path / "unlabelled" / f"hum{i}.wav"
        path.parent.mkdir(exist_ok=True)
        soundfile.write(path, emotion_tone(valence, arousal, 2.0, seed=100 + i), 22050, subtype="FLOAT")
    (tmp_path / "recipe.yaml").write_text(TINY_RECIPE.read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAMER_DATA", ".")  # the data root: relative dataset paths are taken from here
    return tmp_path


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: tiny models on a shared 2-core machine run several times faster than with two."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

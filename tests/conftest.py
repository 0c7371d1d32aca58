"""Fixtures shared by the whole test suite: seeded random signals, a small random model bundle, WAV files, the
working folder of the tiny training recipe, one torch thread, and the PulseAudio virtual sound card."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from damer_core.bundle import random_bundle
from damer_core.model import ModelConfig
from streamer.sources.devices import import_sounddevice
from streamer.virtual_card import PulseUnavailable, null_sink

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
    tones = sum(np.sin(2 * np.pi * f * t + phase) for f, phase in zip(frequencies, rng.uniform(0, 6, 5), strict=True))
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


TINY_RECIPE = Path(__file__).resolve().parent / "train" / "tiny.yaml"


@pytest.fixture
def tiny_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder for ``tests/train/tiny.yaml`` (copied in as ``recipe.yaml``), made the current
    directory and the data root: 12 labelled 2 s clips (3 per quadrant, one with dynamic labels) and 2
    unlabelled ones."""
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


def _rescan_devices() -> None:
    """PortAudio lists devices once, at initialisation; re-initialise it to see the virtual card."""
    sd = import_sounddevice()
    sd._terminate()
    sd._initialize()


@pytest.fixture(scope="module")
def virtual_card(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A PulseAudio null sink for the live-input tests, its environment (``PULSE_SERVER``...) yielded; the
    tests that use it are skipped, saying why, where PulseAudio cannot start."""
    try:
        with null_sink(tmp_path_factory.mktemp("pulse")) as env:
            _rescan_devices()
            yield env
    except PulseUnavailable as exc:
        print(f"live-input tests skipped: {exc}")
        pytest.skip(str(exc))
    finally:
        _rescan_devices()

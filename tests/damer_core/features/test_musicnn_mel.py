"""musicnn's log-Mel front-end: against librosa (fixture), against torchaudio's resampler, stream == offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchaudio

from damer_core.errors import AudioError, ConfigError
from damer_core.features.musicnn_mel import (
    MUSICNN_RESAMPLE_FILTER,
    MusicnnLogMel,
    MusicnnMelStream,
    musicnn_log_mel,
    musicnn_n_frames,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "musicnn_parity.npz"


def music_like(n: int, rate: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 2.0 * t)
    tones = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate((98.0, 196.0, 523.25, 1760.0, 6000.0)))
    return (0.2 * envelope * tones + 0.05 * rng.normal(size=n)).astype(np.float32)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return {"audio": data["audio_16k"], "log_mel": data["librosa_log_mel"]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_librosa_at_16khz(reference, dtype):
    actual = musicnn_log_mel(reference["audio"], 16000, dtype)
    assert actual.dtype == dtype
    assert actual.shape == reference["log_mel"].shape
    assert np.linalg.norm(actual - reference["log_mel"]) / np.linalg.norm(reference["log_mel"]) < 1e-5


def test_resampled_input_equals_torchaudio_resample_then_log_mel():
    audio = music_like(22050 * 2, 22050)
    f = MUSICNN_RESAMPLE_FILTER
    resampled = torchaudio.functional.resample(
        torch.from_numpy(audio).double(), 22050, 16000, f.lowpass_filter_width, f.rolloff, f.method, f.beta
    )
    expected = MusicnnLogMel(torch.float64)(resampled).numpy()
    actual = musicnn_log_mel(audio, 22050, np.float64)
    # The offline version stops at the last frame whose resampled samples are complete: torchaudio pads the
    # end instead, which adds up to two 320-sample blocks, i.e. at most 3 frames.
    assert 0 <= expected.shape[0] - actual.shape[0] <= 3
    np.testing.assert_allclose(actual, expected[: actual.shape[0]], rtol=0, atol=1e-9)


def test_frame_count():
    assert musicnn_n_frames(511) == 0
    assert musicnn_n_frames(512) == 1
    assert musicnn_n_frames(512 + 255) == 1
    assert musicnn_n_frames(48000) == 186
    assert musicnn_log_mel(np.zeros(16000 * 3, np.float32), 16000).shape == (186, 96)


def push_in_blocks(stream: MusicnnMelStream, audio: np.ndarray, sizes) -> np.ndarray:
    out, start = [], 0
    for size in sizes:
        out.append(stream.push(audio[start : start + size]))
        start += size
    out.append(stream.push(audio[start:]))
    return np.concatenate(out)


@pytest.mark.parametrize("rate", [22050, 16000, 44100])
@pytest.mark.parametrize("block", [1, 3, 255, 256, 257, 441, 512, 2048])
def test_stream_equals_offline(rate, block):
    audio = music_like(6000 if block < 16 else rate, rate, seed=block)
    stream = MusicnnMelStream(rate, np.float64)
    streamed = push_in_blocks(stream, audio, [block] * (audio.size // block))
    offline = musicnn_log_mel(audio, rate, np.float64)
    assert streamed.shape == offline.shape and offline.shape[0] > 0
    np.testing.assert_allclose(streamed, offline, rtol=0, atol=1e-9)


def test_stream_float32_random_blocks_emits_each_frame_once_complete():
    audio = music_like(22050, 22050, seed=11)
    rng = np.random.default_rng(12)
    stream = MusicnnMelStream(22050)
    frames, start = [], 0
    while start < audio.size:
        size = int(rng.integers(0, 1500))
        frames.append(stream.push(audio[start : start + size]))
        start += size
        assert sum(f.shape[0] for f in frames) == musicnn_log_mel(audio[:start], 22050).shape[0]
    offline = musicnn_log_mel(audio, 22050)
    np.testing.assert_allclose(np.concatenate(frames), offline, rtol=0, atol=1e-4 * np.abs(offline).max())


def test_snapshot_restore_and_reset():
    audio = music_like(20000, 22050, seed=13)
    stream = MusicnnMelStream(22050)
    stream.push(audio[:7777])
    state = stream.get_state()
    assert set(state) == {"pending", "resample_pending"}
    first = stream.push(audio[7777:])
    stream.set_state(state)
    np.testing.assert_array_equal(stream.push(audio[7777:]), first)
    stream.reset()
    np.testing.assert_array_equal(stream.push(audio), musicnn_log_mel(audio, 22050))


def test_bad_input():
    with pytest.raises(ConfigError, match="sample_rate"):
        MusicnnMelStream(22050.0)
    with pytest.raises(ConfigError, match="sample_rate"):
        musicnn_log_mel(np.zeros(1000, np.float32), 0)
    with pytest.raises(AudioError, match="non-finite"):
        MusicnnMelStream().push(np.array([0.0, np.nan], np.float32))

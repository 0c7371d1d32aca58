"""Block-complete resampling against torchaudio, and its stream against the offline version."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio

from damer_core.errors import AudioError, ConfigError
from damer_core.features.resample import PolyphaseResample, ResampleFilter, ResampleStream, resample_complete

RATES = [(22050, 16000), (44100, 16000), (48000, 22050), (16000, 22050)]


def music_like(n: int, rate: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    tones = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 440.0, 1234.5, 7000.0))
    return (0.2 * tones + 0.1 * rng.normal(size=n)).astype(np.float64)


def push_in_blocks(stream: ResampleStream, audio: np.ndarray, sizes) -> np.ndarray:
    out, start = [], 0
    for size in sizes:
        out.append(stream.push(audio[start : start + size]))
        start += size
    out.append(stream.push(audio[start:]))
    return np.concatenate(out)


@pytest.mark.parametrize(("orig", "new"), RATES)
def test_offline_is_a_prefix_of_torchaudio(orig, new):
    audio = music_like(orig // 2 + 123, orig)
    expected = torchaudio.functional.resample(torch.from_numpy(audio), orig, new).numpy()
    actual = resample_complete(audio, orig, new, dtype=np.float64)
    transform = PolyphaseResample(orig, new)
    blocks = transform.complete_blocks(audio.size + transform.width)
    assert actual.size == blocks * (new // np.gcd(orig, new))
    assert expected.size - actual.size <= (new // np.gcd(orig, new)) * 2
    np.testing.assert_allclose(actual, expected[: actual.size], rtol=0, atol=1e-12)


def test_float32_follows_float64():
    audio = music_like(30000, 22050)
    single = resample_complete(audio, 22050, 16000, dtype=np.float32)
    double = resample_complete(audio, 22050, 16000, dtype=np.float64)
    assert single.dtype == np.float32
    assert np.linalg.norm(single - double) / np.linalg.norm(double) < 1e-6


@pytest.mark.parametrize(("orig", "new"), RATES[:2])
@pytest.mark.parametrize("block", [1, 2, 7, 440, 441, 442, 1000, 4096])
def test_stream_equals_offline(orig, new, block):
    audio = music_like(9000 if block < 8 else 30000, orig, seed=block)
    stream = ResampleStream(orig, new, dtype=np.float64)
    streamed = push_in_blocks(stream, audio, [block] * (audio.size // block))
    np.testing.assert_allclose(streamed, resample_complete(audio, orig, new, dtype=np.float64), rtol=0, atol=1e-12)


def test_stream_equals_offline_with_random_blocks_and_emits_each_block_once_complete():
    audio = music_like(20000, 22050, seed=3)
    rng = np.random.default_rng(4)
    stream = ResampleStream(22050, 16000, dtype=np.float32)
    out, start = [], 0
    while start < audio.size:
        size = int(rng.integers(0, 900))
        out.append(stream.push(audio[start : start + size]))
        start += size
        expected_len = resample_complete(audio[:start], 22050, 16000).size
        assert sum(o.size for o in out) == expected_len
    np.testing.assert_allclose(np.concatenate(out), resample_complete(audio, 22050, 16000), rtol=0, atol=1e-6)


def test_snapshot_restore_and_reset():
    audio = music_like(12000, 22050, seed=5)
    stream = ResampleStream(22050, 16000)
    stream.push(audio[:5000])
    state = stream.get_state()
    first = stream.push(audio[5000:])
    stream.set_state(state)
    np.testing.assert_array_equal(stream.push(audio[5000:]), first)
    stream.reset()
    np.testing.assert_array_equal(stream.push(audio), resample_complete(audio, 22050, 16000))


def test_bad_rates_filters_and_audio():
    with pytest.raises(ConfigError, match="rates"):
        ResampleStream(16000, 16000)
    with pytest.raises(ConfigError, match="rates"):
        PolyphaseResample(0, 16000)
    with pytest.raises(ConfigError, match="rates"):
        resample_complete(np.zeros(100), 22050.5, 16000)
    with pytest.raises(ConfigError, match="rolloff"):
        ResampleFilter(rolloff=1.5)
    with pytest.raises(ConfigError, match="method"):
        ResampleFilter(method="linear")
    with pytest.raises(AudioError, match="mono"):
        ResampleStream(22050, 16000).push(np.zeros((10, 2), np.float32))

"""SourceResampler: streamed output (any block sizes) + flush == torchaudio's offline resample."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio

from streamer.resample import MAX_KERNEL_TAPS, SourceResampler, kernel_taps, practical_ratio

RATES = [(44100, 22050), (48000, 22050), (16000, 22050), (8000, 22050), (22050, 44100), (32000, 22050)]
BLOCKS = [1, 2, 7, 255, 256, 1001]


def _stream(resampler: SourceResampler, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    out, i, k = [], 0, 0
    while i < x.size:
        size = sizes[k % len(sizes)]
        out.append(resampler.push(x[i : i + size]))
        i += size
        k += 1
    out.append(resampler.flush())
    return np.concatenate(out)


@pytest.mark.parametrize(("orig", "new"), RATES)
def test_streamed_equals_offline_torchaudio(orig: int, new: int, rng: np.random.Generator) -> None:
    x = (0.3 * rng.standard_normal(2503)).astype(np.float32)
    # Reference in float64: the resampler's kernel is torchaudio's computed in float64.
    reference = torchaudio.functional.resample(torch.from_numpy(x.astype(np.float64)), orig, new).numpy()
    resampler = SourceResampler(orig, new)
    whole = _stream(resampler, x, [x.size])
    assert whole.shape == reference.shape
    np.testing.assert_allclose(whole, reference, atol=2e-6, rtol=0)
    for size in BLOCKS:
        np.testing.assert_allclose(_stream(resampler, x, [size]), whole, atol=1e-6, rtol=0, err_msg=f"block {size}")
    random_sizes = [int(s) for s in rng.integers(1, 400, size=50)]
    np.testing.assert_allclose(_stream(resampler, x, random_sizes), whole, atol=1e-6, rtol=0)


def test_flush_resets_for_a_new_stream(rng: np.random.Generator) -> None:
    x = rng.standard_normal(3000).astype(np.float32)
    resampler = SourceResampler(48000, 22050)
    first = _stream(resampler, x, [100])
    second = _stream(resampler, x, [333])
    np.testing.assert_allclose(first, second, atol=1e-6, rtol=0)


def test_short_input_gives_offline_length() -> None:
    x = np.ones(5, dtype=np.float32)
    resampler = SourceResampler(44100, 22050)
    reference = torchaudio.functional.resample(torch.from_numpy(x.astype(np.float64)), 44100, 22050).numpy()
    got = _stream(resampler, x, [1])
    assert got.shape == reference.shape == (3,)
    np.testing.assert_allclose(got, reference, atol=2e-6)


@pytest.mark.parametrize(
    ("orig", "exact"),
    [
        (8000, True),
        (44100, True),
        (48000, True),
        (96000, True),
        (768000, True),
        (44101, False),
        (48001, False),
        (22254, False),
    ],
)
def test_kernel_bank_stays_small_for_any_rate(orig: int, exact: bool) -> None:
    p, q = practical_ratio(orig, 22050)
    assert kernel_taps(p, q) <= MAX_KERNEL_TAPS
    assert (p * 22050 == q * orig) == exact
    assert abs(q / p - 22050 / orig) < 3e-5 * 22050 / orig  # 30 ppm at worst


def test_odd_rate_is_converted_at_the_nearest_small_ratio(rng: np.random.Generator) -> None:
    """44101 Hz has no common factor with 22050 Hz (an exact kernel bank would take 7.8 GB): it is
    converted as 44100 Hz would be, 23 ppm slow."""
    x = (0.3 * rng.standard_normal(5001)).astype(np.float32)
    assert practical_ratio(44101, 22050) == (2, 1)
    reference = torchaudio.functional.resample(torch.from_numpy(x.astype(np.float64)), 2, 1).numpy()
    got = _stream(SourceResampler(44101, 22050), x, [777])
    assert got.shape == reference.shape
    np.testing.assert_allclose(got, reference, atol=2e-6, rtol=0)

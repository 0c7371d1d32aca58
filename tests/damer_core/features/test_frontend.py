"""Dual-view front-end: streamed frames equal offline frames for any blocking; state; bad input."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from damer_core.errors import AudioError, BundleError, ConfigError
from damer_core.features.cochleagram import cochleagram
from damer_core.features.frontend import FrontEnd, frontend_offline
from damer_core.features.mel import log_mel
from damer_core.features.musicnn_view import musicnn_view_offline
from damer_core.spec import CochleagramSpec, FeatureSpec, MelSpec, MusicnnViewSpec

SMALL_SPEC = FeatureSpec(
    hop=100, win_length=300, mel=MelSpec(n_mels=32), cochleagram=CochleagramSpec(n_channels=20, f_max=9000.0)
)


def push_in_blocks(front_end: FrontEnd, audio: np.ndarray, sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Push ``audio`` in blocks of the given sizes (the last block takes the rest); concatenate the frames."""
    bounds = np.cumsum([0, *sizes])
    bounds = np.append(bounds[bounds < audio.size], audio.size)
    mels, cochs = [], []
    for start, stop in itertools.pairwise(bounds):
        mel, coch, musicnn = front_end.push(audio[start:stop])
        assert musicnn.shape == (mel.shape[0], 0)
        assert mel.shape[0] == coch.shape[0]
        mels.append(mel)
        cochs.append(coch)
    return np.concatenate(mels), np.concatenate(cochs)


def block_sizes(kind: str | int, n: int, rng: np.random.Generator) -> list[int]:
    if kind == "random":
        return list(rng.integers(0, 700, size=n))  # includes empty blocks
    return [int(kind)] * (-(-n // int(kind)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", [FeatureSpec(), SMALL_SPEC], ids=["default", "hop100-win300"])
@pytest.mark.parametrize("kind", [1, 7, 255, 256, 257, 4096, "random"])
def test_streamed_frames_equal_offline_frames(kind, spec, dtype, music, rng):
    audio = music[:12000] if kind == 1 else music
    offline_mel, offline_coch = log_mel(audio, spec, dtype), cochleagram(audio, spec, dtype)
    mel, coch = push_in_blocks(FrontEnd(spec, dtype), audio, block_sizes(kind, audio.size, rng))
    assert mel.dtype == coch.dtype == dtype
    assert mel.shape == offline_mel.shape == (spec.n_frames(audio.size), spec.mel.n_mels)
    assert coch.shape == offline_coch.shape == (spec.n_frames(audio.size), spec.cochleagram.n_channels)
    # Neither kernel's order of operations depends on block boundaries: bit for bit.
    np.testing.assert_array_equal(mel, offline_mel)
    np.testing.assert_array_equal(coch, offline_coch)


def test_features_do_not_depend_on_the_thread_count_or_memory_alignment(music):
    """A process's torch threads and where the samples sit in memory never change a bit of the Mel and
    cochleagram views; the musicnn view (a network run by torch) is bit-stable for a given thread count."""
    spec = FeatureSpec(musicnn=MusicnnViewSpec(pool_frames=62))
    previous = torch.get_num_threads()
    try:
        results = {}
        for threads, offset in ((1, 0), (2, 1), (2, 3), (1, 5)):
            torch.set_num_threads(threads)
            buffer = np.zeros(music.size + offset, dtype=np.float32)
            buffer[offset:] = music
            results[threads, offset] = frontend_offline(buffer[offset:], spec)
    finally:
        torch.set_num_threads(previous)
    reference = results[1, 0]
    for (threads, _), result in results.items():
        np.testing.assert_array_equal(result.mel, reference.mel)
        np.testing.assert_array_equal(result.coch, reference.coch)
        np.testing.assert_array_equal(result.musicnn, results[threads, 1 if threads == 2 else 0].musicnn)


def test_frames_are_emitted_when_their_last_sample_arrives(music):
    spec = FeatureSpec()
    front_end = FrontEnd(spec)
    assert front_end.push(music[: spec.win_length - 1])[0].shape[0] == 0
    assert front_end.push(music[spec.win_length - 1 : spec.win_length])[0].shape[0] == 1
    assert front_end.push(music[spec.win_length : spec.win_length + spec.hop - 1])[1].shape[0] == 0
    assert front_end.push(music[spec.win_length + spec.hop - 1 : spec.win_length + 3 * spec.hop])[1].shape[0] == 3
    assert front_end.frames_emitted == 4 == spec.n_frames(spec.win_length + 3 * spec.hop)


def test_offline_front_end_equals_each_view(music):
    spec = FeatureSpec()
    mel, coch, _ = frontend_offline(music, spec)
    np.testing.assert_array_equal(mel, log_mel(music, spec))
    np.testing.assert_array_equal(coch, cochleagram(music, spec))


def test_snapshot_restore_replays_identically(music):
    spec = FeatureSpec()
    front_end = FrontEnd(spec)
    front_end.push(music[:5000])
    snapshot = front_end.get_state()
    mel, coch, _ = front_end.push(music[5000:11111])
    front_end.push(music[11111:])  # the snapshot is a copy: later pushes leave it alone
    restored = FrontEnd(spec)
    restored.set_state(snapshot)
    again_mel, again_coch, _ = restored.push(music[5000:11111])
    np.testing.assert_array_equal(again_mel, mel)
    np.testing.assert_array_equal(again_coch, coch)
    assert restored.frames_emitted == spec.n_frames(11111)


def test_reset_starts_a_new_stream(music, rng):
    spec = FeatureSpec()
    front_end = FrontEnd(spec)
    front_end.push(rng.standard_normal(7777))
    front_end.reset()
    assert front_end.frames_emitted == 0
    mel, coch, _ = front_end.push(music)
    np.testing.assert_array_equal(mel, log_mel(music, spec))
    np.testing.assert_array_equal(coch, cochleagram(music, spec))


def test_empty_block_gives_no_frames_and_changes_nothing(music):
    spec = FeatureSpec()
    front_end = FrontEnd(spec)
    front_end.push(music[:3000])
    before = front_end.get_state()
    mel, coch, _ = front_end.push(np.zeros(0, dtype=np.float32))
    assert mel.shape == (0, spec.mel.n_mels) and coch.shape == (0, spec.cochleagram.n_channels)
    after = front_end.get_state()
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])


def test_float64_blocks_are_accepted_by_a_float32_front_end(music):
    spec = FeatureSpec()
    from_float64 = FrontEnd(spec).push(music)
    from_float32 = FrontEnd(spec).push(music.astype(np.float32))
    for a, b in zip(from_float64, from_float32, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (np.array([0.1, np.nan, 0.2], dtype=np.float32), "non-finite"),
        (np.array([0.1, 0.2, np.inf]), "non-finite"),
        (np.zeros((1000, 2), dtype=np.float32), "mono"),
        (np.zeros(1000, dtype=np.int16), "dtype int16"),
        ([0.0] * 1000, "numpy array"),
    ],
    ids=["nan", "inf", "stereo", "int16", "list"],
)
def test_bad_blocks_raise_audio_error_and_leave_the_state_alone(block, message, music):
    spec = FeatureSpec()
    front_end = FrontEnd(spec)
    first_mel, first_coch, _ = front_end.push(music[:3000])
    with pytest.raises(AudioError, match=message):
        front_end.push(block)
    mel, coch, _ = front_end.push(music[3000:])
    mel, coch = np.concatenate([first_mel, mel]), np.concatenate([first_coch, coch])
    np.testing.assert_array_equal(mel, log_mel(music, spec))
    np.testing.assert_array_equal(coch, cochleagram(music, spec))
    assert np.isfinite(mel).all() and np.isfinite(coch).all()


def test_precomputed_feature_spec_is_refused():
    memo_spec = dataclasses.replace(FeatureSpec(), source="memo2496")
    with pytest.raises(BundleError, match="memo2496.*cannot compute"):
        FrontEnd(memo_spec)
    with pytest.raises(BundleError, match="memo2496"):
        frontend_offline(np.zeros(4096), memo_spec)


def test_spec_the_sample_rate_cannot_serve_is_refused_when_built():
    with pytest.raises(ConfigError, match=r"cochleagram\.f_max: must be < 8000\.0 Hz"):
        FeatureSpec(sample_rate=16000)


@pytest.mark.parametrize("kind", [1, 257, "random"])
def test_three_views_stream_like_offline_and_like_each_view_alone(kind, music, rng):
    spec = FeatureSpec(musicnn=MusicnnViewSpec(pool_frames=62))
    audio = music[:9000] if kind == 1 else music
    offline = frontend_offline(audio, spec)
    streamed = FrontEnd(spec)
    parts = [streamed.push(audio[a:b]) for a, b in _bounds(block_sizes(kind, audio.size, rng), audio.size)]
    n = spec.n_frames(audio.size)
    for index, expected in enumerate(
        (log_mel(audio, spec), cochleagram(audio, spec), musicnn_view_offline(audio, spec))
    ):
        joined = np.concatenate([part[index] for part in parts])
        assert joined.shape == offline[index].shape == expected.shape and expected.shape[0] == n
        np.testing.assert_allclose(joined, offline[index], rtol=0, atol=1e-5 * max(1.0, np.abs(expected).max()))
        np.testing.assert_allclose(offline[index], expected, rtol=0, atol=1e-5 * max(1.0, np.abs(expected).max()))
    assert offline.musicnn.shape == (n, 200)


def _bounds(sizes: list[int], n: int) -> list[tuple[int, int]]:
    edges = np.cumsum([0, *sizes])
    edges = np.append(edges[edges < n], n)
    return list(itertools.pairwise(edges))


def test_three_view_state_snapshot_includes_the_musicnn_view(music):
    spec = FeatureSpec(musicnn=MusicnnViewSpec(pool_frames=62))
    front_end = FrontEnd(spec)
    front_end.push(music[:7000])
    snapshot = front_end.get_state()
    assert any(key.startswith("musicnn.network.") for key in snapshot)
    later = front_end.push(music[7000:])
    front_end.set_state(snapshot)
    again = front_end.push(music[7000:])
    for a, b in zip(later, again, strict=True):
        np.testing.assert_array_equal(a, b)

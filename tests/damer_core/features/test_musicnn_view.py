"""The musicnn view on the front-end's frame grid: streamed equals offline for any blocking, each frame holds
the embedding of the musicnn frames complete when it is emitted, causality, state, refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from damer_core.errors import AudioError, BundleError
from damer_core.features.musicnn_mel import musicnn_log_mel
from damer_core.features.musicnn_view import MusicnnViewStream, musicnn_view_offline
from damer_core.musicnn import load_musicnn
from damer_core.musicnn_stream import CausalMusicnn
from damer_core.spec import FeatureSpec, MusicnnViewSpec

SPEC = FeatureSpec(musicnn=MusicnnViewSpec(pool_frames=62))
TOLERANCE = 1e-5  # relative to the largest value: float32 network, columns computed in different groupings


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def song() -> np.ndarray:
    """3 s of a changing music-like signal at 22050 Hz: chords whose pitch and loudness move, noise bursts."""
    rng = np.random.default_rng(5)
    t = np.arange(3 * 22050) / 22050
    chord = sum(np.sin(2 * np.pi * f * t * (1 + 0.05 * np.sin(1.3 * t))) for f in (196.0, 246.9, 293.7, 587.3))
    bursts = (np.sin(2 * np.pi * 4 * t) > 0.7) * rng.standard_normal(t.size)
    return (0.1 * chord * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t)) + 0.05 * bursts).astype(np.float32)


def push_in_blocks(stream: MusicnnViewStream, audio: np.ndarray, sizes: list[int]) -> np.ndarray:
    rows, start, i = [], 0, 0
    while start < audio.size:
        size = sizes[i % len(sizes)]
        rows.append(stream.push(audio[start : start + size]))
        start, i = start + size, i + 1
    return np.concatenate(rows)


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= TOLERANCE * np.abs(expected).max()


@pytest.mark.parametrize("sizes", [[1], [7, 300], [255], [256], [257], [4096], "random"])
def test_streamed_equals_offline(song, sizes):
    audio = song[:15000] if sizes == [1] else song
    offline = musicnn_view_offline(audio, SPEC)
    assert offline.shape == (SPEC.n_frames(audio.size), 200) and offline.dtype == np.float32
    if sizes == "random":
        sizes = np.random.default_rng(1).integers(0, 3000, size=60).tolist()
    assert_close(push_in_blocks(MusicnnViewStream(SPEC), audio, sizes), offline)


def test_each_frame_holds_the_embedding_of_the_musicnn_frames_complete_when_it_is_emitted(song):
    view = musicnn_view_offline(song, SPEC)
    network = CausalMusicnn(load_musicnn(), "causal", SPEC.musicnn.pool_frames)
    max_pool, mean_pool, _ = network(torch.from_numpy(musicnn_log_mel(song, 22050)), network.init_state())
    embeddings = network.embed(max_pool, mean_pool).numpy()
    empty = network.embed(torch.zeros(1, 753), torch.zeros(1, 753))[0].numpy()
    for t in (0, 1, 2, 50, 133, view.shape[0] - 1):
        complete = musicnn_log_mel(song[: t * SPEC.hop + SPEC.win_length], 22050).shape[0]
        expected = empty if complete == 0 else embeddings[complete - 1]
        np.testing.assert_allclose(view[t], expected, rtol=1e-5, atol=1e-5 * np.abs(embeddings).max())


def test_rows_do_not_depend_on_later_audio(song):
    t = 120
    cut = t * SPEC.hop + SPEC.win_length
    changed = song.copy()
    changed[cut:] = np.random.default_rng(0).standard_normal(song.size - cut).astype(np.float32)
    first, second = musicnn_view_offline(song, SPEC), musicnn_view_offline(changed, SPEC)
    np.testing.assert_array_equal(first[: t + 1], second[: t + 1])
    assert not np.allclose(first[t + 40 :], second[t + 40 :])


def test_aligned_variant_streams_like_offline(song):
    spec = dataclasses.replace(SPEC, musicnn=MusicnnViewSpec(variant="aligned", pool_frames=62))
    assert_close(push_in_blocks(MusicnnViewStream(spec), song, [333, 1, 2048]), musicnn_view_offline(song, spec))


def test_snapshot_restore_and_reset(song):
    stream = MusicnnViewStream(SPEC)
    stream.push(song[:20000])
    snapshot = stream.get_state()
    later = stream.push(song[20000:40000])
    stream.set_state(snapshot)
    np.testing.assert_array_equal(stream.push(song[20000:40000]), later)
    stream.reset()
    np.testing.assert_array_equal(stream.push(song[:40000]), MusicnnViewStream(SPEC).push(song[:40000]))


def test_taggram_embedding_is_a_probability_per_tag(song):
    spec = dataclasses.replace(SPEC, musicnn=MusicnnViewSpec(embedding="taggram"))
    tags = musicnn_view_offline(song, spec)
    assert tags.shape == (SPEC.n_frames(song.size), 50) and spec.musicnn.size == 50
    assert ((tags > 0) & (tags < 1)).all()


def test_other_musicnn_weights_are_refused():
    spec = FeatureSpec(musicnn=MusicnnViewSpec(weights_sha256="0" * 64))
    with pytest.raises(BundleError, match="other musicnn weights"):
        MusicnnViewStream(spec)


def test_a_spec_without_the_view_and_bad_audio_are_refused(song):
    with pytest.raises(BundleError, match="no musicnn view"):
        MusicnnViewStream(FeatureSpec())
    with pytest.raises(AudioError):
        musicnn_view_offline(np.array([0.0, np.nan], dtype=np.float32), SPEC)

"""Feature cache: hits and misses, keys, atomic writes, damaged entries, float16 storage, parallel fill."""

import json

import numpy as np
import pytest

import train.feature_cache as feature_cache
from damer_core.errors import AudioError, ConfigError
from damer_core.features.frontend import frontend_offline
from damer_core.spec import FeatureSpec, MusicnnViewSpec
from damer_core.threads import torch_threads
from train.audio import load_audio
from train.feature_cache import FeatureCache, file_sha256

SPEC = FeatureSpec()


@pytest.fixture
def count_extractions(monkeypatch):
    calls = []
    real = feature_cache.extract_features

    def counting(path, spec):
        calls.append(str(path))
        return real(path, spec)

    monkeypatch.setattr(feature_cache, "extract_features", counting)
    return calls


def test_miss_computes_the_front_end_and_hit_loads_it(tmp_path, write_audio, count_extractions):
    audio_path = write_audio(tmp_path / "a.flac", seconds=0.5)
    cache = FeatureCache(tmp_path / "cache", SPEC)
    first = cache.get(audio_path)
    second = FeatureCache(tmp_path / "cache", SPEC).get(audio_path)
    assert count_extractions == [str(audio_path)]
    audio = load_audio(audio_path, SPEC.sample_rate)
    mel, coch, _ = frontend_offline(audio, SPEC)
    np.testing.assert_array_equal(first.mel, mel)
    np.testing.assert_array_equal(first.coch, coch)
    np.testing.assert_array_equal(second.mel, first.mel)
    np.testing.assert_array_equal(second.coch, first.coch)
    assert first.n_frames == SPEC.n_frames(audio.size) > 0
    assert cache.entry_path(file_sha256(audio_path)).is_file()
    assert FeatureSpec.from_dict(json.loads((cache.directory / "spec.json").read_text())) == SPEC


def test_key_follows_spec_and_content_not_path(tmp_path, write_audio, count_extractions):
    audio_path = write_audio(tmp_path / "a.wav", seconds=0.3)
    FeatureCache(tmp_path / "cache", SPEC).get(audio_path)
    other_spec = FeatureSpec(hop=512)
    assert FeatureCache(tmp_path / "cache", other_spec).directory != FeatureCache(tmp_path / "cache", SPEC).directory
    FeatureCache(tmp_path / "cache", other_spec).get(audio_path)  # new spec: miss
    (tmp_path / "copy.wav").write_bytes(audio_path.read_bytes())
    FeatureCache(tmp_path / "cache", SPEC).get(tmp_path / "copy.wav")  # same bytes elsewhere: hit
    write_audio(audio_path, seconds=0.3, frequency=880.0)  # edited content: miss
    changed = FeatureCache(tmp_path / "cache", SPEC).get(audio_path)
    assert count_extractions == [str(audio_path), str(audio_path), str(audio_path)]
    assert changed.n_frames == SPEC.n_frames(int(0.3 * 22050))


def test_interrupted_write_leaves_no_entry_and_the_next_run_completes(tmp_path, write_audio, monkeypatch):
    audio_path = write_audio(tmp_path / "a.wav", seconds=0.3)
    cache = FeatureCache(tmp_path / "cache", SPEC)
    real_savez = np.savez

    def interrupted_savez(handle, **arrays):
        handle.write(b"PK\x03\x04 half an entry")
        raise KeyboardInterrupt

    monkeypatch.setattr(feature_cache.np, "savez", interrupted_savez)
    with pytest.raises(KeyboardInterrupt):
        cache.get(audio_path)
    entry = cache.entry_path(file_sha256(audio_path))
    assert not entry.exists()
    assert not [p for p in entry.parent.iterdir() if p.name.endswith(".partial")]
    monkeypatch.setattr(feature_cache.np, "savez", real_savez)
    assert cache.get(audio_path).n_frames > 0 and entry.is_file()


def test_damaged_entry_is_recomputed(tmp_path, write_audio, count_extractions):
    audio_path = write_audio(tmp_path / "a.wav", seconds=0.3)
    cache = FeatureCache(tmp_path / "cache", SPEC)
    good = cache.get(audio_path)
    entry = cache.entry_path(file_sha256(audio_path))
    entry.write_bytes(entry.read_bytes()[:100])
    assert cache.load(file_sha256(audio_path)) is None and not entry.exists()
    np.testing.assert_array_equal(cache.get(audio_path).mel, good.mel)
    assert len(count_extractions) == 2


def test_float16_storage_error_is_within_the_documented_bound(tmp_path, write_audio):
    audio_path = write_audio(tmp_path / "a.wav", seconds=1.0)
    exact = FeatureCache(tmp_path / "c32", SPEC).get(audio_path)
    half = FeatureCache(tmp_path / "c16", SPEC, storage_dtype="float16")
    stored, reloaded = half.get(audio_path), FeatureCache(tmp_path / "c16", SPEC, "float16").get(audio_path)
    for a, b, c in ((exact.mel, stored.mel, reloaded.mel), (exact.coch, stored.coch, reloaded.coch)):
        assert b.dtype == np.float32
        np.testing.assert_array_equal(b, c)
        assert np.all(np.abs(b - a) <= np.abs(a) * 2.0**-11)
        assert np.any(b != a)


@pytest.mark.parametrize("threads", [1, 2], ids=["1 thread here", "2 threads here"])
def test_fill_in_parallel_processes_equals_serial(tmp_path, write_audio, threads: int):
    """Entries are the same bits whether computed by worker processes or in this one, whatever this
    process's thread count (three views: the musicnn network's sums depend on the thread count)."""
    spec = FeatureSpec(musicnn=MusicnnViewSpec(pool_frames=31))
    paths = [write_audio(tmp_path / f"{i}.wav", seconds=0.6, frequency=200.0 * (i + 1)) for i in range(3)]
    progress = []
    parallel = FeatureCache(tmp_path / "parallel", spec)
    hashes = parallel.fill(paths, workers=2, progress=lambda done, total: progress.append((done, total)))
    assert hashes == [file_sha256(p) for p in paths]
    assert sorted(progress) == [(1, 3), (2, 3), (3, 3)]
    serial = FeatureCache(tmp_path / "serial", spec)
    with torch_threads(threads):
        serial.fill(paths)
    for h in hashes:
        for view in ("mel", "coch", "musicnn"):
            np.testing.assert_array_equal(getattr(parallel.load(h), view), getattr(serial.load(h), view))
    assert parallel.fill(paths, workers=2, progress=lambda *_: pytest.fail("nothing left to compute")) == hashes


def test_errors_name_the_file(tmp_path, write_audio):
    cache = FeatureCache(tmp_path / "cache", SPEC)
    short = write_audio(tmp_path / "short.wav", seconds=0.05)
    with pytest.raises(AudioError, match="short.wav: 0.050 s of audio is shorter than one analysis window"):
        cache.get(short)
    (tmp_path / "bad.mp3").write_bytes(b"junk" * 100)
    with pytest.raises(AudioError, match="bad.mp3"):
        cache.fill([tmp_path / "bad.mp3"])
    with pytest.raises(AudioError, match="absent.wav"):
        cache.get(tmp_path / "absent.wav")
    with pytest.raises(ConfigError, match="not computed from audio"):
        FeatureCache(tmp_path, FeatureSpec(source="memo2496"))
    with pytest.raises(ConfigError, match="storage_dtype"):
        FeatureCache(tmp_path, SPEC, storage_dtype="int8")

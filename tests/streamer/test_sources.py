"""Sources: file decoding errors, pacing, no loss at fast pace, raw float32 on stdin."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from damer_core.errors import AudioError
from streamer.sources.file import SoundFileReader, file_source
from streamer.sources.stdin import RawFloat32Reader, stdin_source
from tests.streamer.conftest import music_signal


def drain(source, timeout: float = 30.0) -> np.ndarray:
    """Consume everything a started source produces until it finishes."""
    out = np.zeros(source.ring.capacity, dtype=np.float32)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = source.finished
        source.ring.wait_for(1, 0.05)
        n = source.ring.read_into(out)
        chunks.append(out[:n].copy())
        if finished and source.ring.available() == 0:
            break
    source.stop()
    return np.concatenate(chunks)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"nothere\.wav: no such file"):
        SoundFileReader(tmp_path / "nothere.wav")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not a regular file"):
        SoundFileReader(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav: empty file"):
        SoundFileReader(path)


def test_wav_without_samples(tmp_path: Path) -> None:
    path = tmp_path / "silent.wav"
    soundfile.write(str(path), np.zeros(0, dtype=np.float32), 22050)
    with pytest.raises(AudioError, match=r"silent\.wav: contains no audio samples"):
        SoundFileReader(path)


def test_corrupt_file(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "corrupt.ogg"
    path.write_bytes(b"OggS" + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError, match=r"corrupt\.ogg: cannot decode"):
        SoundFileReader(path)


def test_unsupported_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not audio\n" * 100)
    with pytest.raises(AudioError, match=r"notes\.txt: cannot decode"):
        SoundFileReader(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.wav"
    soundfile.write(str(path), np.zeros(100, dtype=np.float32), 22050)
    path.chmod(0)
    with pytest.raises(AudioError, match=r"locked\.wav"):
        SoundFileReader(path)


@pytest.mark.timeout(60)
def test_fast_pace_waits_for_space_and_loses_nothing(write_wav) -> None:
    audio = music_signal(3.0, 44100)
    path = write_wav("music.wav", audio, 44100)
    source = file_source(SoundFileReader(path), "fast", 0.05, 1000)  # a ring far smaller than the file
    source.start()
    received = drain(source)
    np.testing.assert_array_equal(received, audio)
    assert source.ring.overrun_samples == 0


@pytest.mark.timeout(60)
def test_realtime_pace_delivers_at_the_pace_of_the_audio(write_wav) -> None:
    audio = music_signal(1.0, 22050)
    path = write_wav("music.wav", audio, 22050)
    source = file_source(SoundFileReader(path), "realtime", 2.0, 256)
    start = time.perf_counter()
    source.start()
    received = drain(source)
    elapsed = time.perf_counter() - start
    np.testing.assert_array_equal(received, audio)
    assert elapsed >= 0.95, f"a 1 s file was delivered in {elapsed:.3f} s"


def test_stereo_file_is_downmixed_by_averaging(write_wav) -> None:
    left, right = music_signal(0.5, 22050, seed=1), music_signal(0.5, 22050, seed=2)
    path = write_wav("stereo.wav", np.stack([left, right], axis=1), 22050)
    source = file_source(SoundFileReader(path), "fast", 1.0, 777)
    source.start()
    np.testing.assert_allclose(drain(source), (left + right) / 2, atol=1e-7)


class TrickleStream(io.RawIOBase):
    """A pipe-like binary stream that returns at most ``step`` bytes per read (splitting frames)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - memoryview
        n = min(len(buffer), self._step, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


@pytest.mark.parametrize("step", [1, 3, 4, 4093, 100_000])
def test_raw_stdin_reassembles_frames_split_across_reads(step: int, rng: np.random.Generator) -> None:
    frames = rng.standard_normal((3001, 2)).astype("<f4")
    data = frames.tobytes() + b"\x01\x02\x03"  # an incomplete trailing frame is ignored
    reader = RawFloat32Reader(TrickleStream(data, step), 22050, 2)
    blocks = []
    while (block := reader.read(500)).size:
        assert block.size <= 500
        blocks.append(block)
    np.testing.assert_allclose(np.concatenate(blocks), frames.mean(axis=1), atol=1e-7)


def test_stdin_source_fast_pace(rng: np.random.Generator) -> None:
    audio = rng.standard_normal(20000).astype("<f4")
    source = stdin_source(io.BufferedReader(TrickleStream(audio.tobytes(), 1000)), 16000, 1, "fast", 0.1, 512)
    assert source.sample_rate == 16000
    source.start()
    np.testing.assert_array_equal(drain(source), audio)

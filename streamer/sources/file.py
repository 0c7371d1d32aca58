"""Sound files as sources: decoding with soundfile (libsndfile: WAV, FLAC, OGG/Vorbis, Opus, MP3, ...).

Every failure to open or decode becomes an :class:`~damer_core.errors.AudioError` whose message starts with
the file name: missing or unreadable file, unsupported or corrupt format, no samples, or a decoding error
part-way through. Channels are downmixed to mono by averaging; the sample rate is kept (the engine
resamples to the model's rate).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile

from damer_core.errors import AudioError
from streamer.ring import RingBuffer
from streamer.sources.base import Pace, ThreadedSource


class SoundFileReader:
    """Reads a sound file block by block as mono float32.

    Attributes:
        path: the file.
        sample_rate: the file's sample rate in Hz.
        channels: the file's channel count (downmixed on reading).
        frames: the file's length in samples per channel.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.exists():
            raise AudioError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise AudioError(f"{self.path}: not a regular file")
        if self.path.stat().st_size == 0:
            raise AudioError(f"{self.path}: empty file (0 bytes)")
        try:
            self._file = soundfile.SoundFile(str(self.path))
        except PermissionError:
            raise AudioError(f"{self.path}: permission denied") from None
        except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioError(f"{self.path}: cannot decode ({_reason(exc)})") from None
        self.sample_rate = int(self._file.samplerate)
        self.channels = int(self._file.channels)
        self.frames = int(self._file.frames)
        if self.frames <= 0:
            self._file.close()
            raise AudioError(f"{self.path}: contains no audio samples")
        self._scratch = np.zeros((0, self.channels), dtype=np.float32)
        self._position = 0

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate

    def read(self, max_frames: int) -> np.ndarray:
        if self._scratch.shape[0] < max_frames:
            self._scratch = np.zeros((max_frames, self.channels), dtype=np.float32)
        try:
            block = self._file.read(max_frames, dtype="float32", always_2d=True, out=self._scratch[:max_frames])
        except (soundfile.LibsndfileError, RuntimeError) as exc:
            at = self._position / self.sample_rate
            raise AudioError(f"{self.path}: decoding failed at {at:.2f} s ({_reason(exc)})") from None
        self._position += block.shape[0]
        if self.channels == 1:
            return block[:, 0].copy()
        return block.mean(axis=1, dtype=np.float32)

    def close(self) -> None:
        self._file.close()


def file_source(
    reader: SoundFileReader,
    pace: Pace,
    ring_seconds: float,
    block_frames: int,
    ring_factory: Callable[[int], RingBuffer] = RingBuffer,
) -> ThreadedSource:
    """A :class:`ThreadedSource` reading an opened file at ``pace``."""
    mix = f"{reader.channels} ch -> mono" if reader.channels > 1 else "mono"
    description = f"file {reader.path} ({reader.sample_rate} Hz, {mix}, {reader.duration:.1f} s), {pace} pace"
    return ThreadedSource(reader, pace, ring_seconds, block_frames, description, ring_factory)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, soundfile.LibsndfileError) and getattr(exc, "error_string", None):
        text = exc.error_string
    return text.splitlines()[0] if text else type(exc).__name__

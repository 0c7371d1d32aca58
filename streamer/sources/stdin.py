"""Raw audio on standard input (``--input -``): interleaved little-endian float32 samples.

There is no header, so the sample rate and channel count are options (``--stdin-rate``, default: the
model's rate, 22050 Hz; ``--stdin-channels``, default 1). Example::

    sox song.flac -t raw -e floating-point -b 32 -r 22050 -c 1 - | damer stream --input -

An incomplete trailing frame at the end of input is ignored. With ``--pace realtime`` (the default of
``damer stream``) the samples are delivered at the pace of the audio, like a sound card; with ``--pace fast``
they are processed as fast as they come and the pipe is throttled instead of losing samples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from streamer.ring import RingBuffer
from streamer.sources.base import Pace, ThreadedSource


class RawFloat32Reader:
    """Reads interleaved float32 frames from a binary stream and downmixes them to mono."""

    def __init__(self, stream: BinaryIO, sample_rate: int, channels: int, name: str = "stdin") -> None:
        self._stream = stream
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.name = name
        self._frame_bytes = 4 * self.channels
        self._buffer = bytearray(0)
        self._fill = 0

    def read(self, max_frames: int) -> np.ndarray:
        want = max_frames * self._frame_bytes
        if len(self._buffer) < want:
            grown = bytearray(want)
            grown[: self._fill] = self._buffer[: self._fill]
            self._buffer = grown
        view = memoryview(self._buffer)
        while self._fill < self._frame_bytes:
            got = self._read_some(view[self._fill : want])
            if got == 0:
                return np.zeros(0, dtype=np.float32)
            self._fill += got
        frames = self._fill // self._frame_bytes
        samples = np.frombuffer(self._buffer, dtype="<f4", count=frames * self.channels).reshape(frames, self.channels)
        mono = samples[:, 0].astype(np.float32) if self.channels == 1 else samples.mean(axis=1, dtype=np.float32)
        used = frames * self._frame_bytes
        rest = self._fill - used
        self._buffer[:rest] = self._buffer[used : self._fill]
        self._fill = rest
        view.release()
        return mono

    def _read_some(self, target: memoryview) -> int:
        readinto1 = getattr(self._stream, "readinto1", None)
        got = readinto1(target) if readinto1 is not None else self._stream.readinto(target)
        return int(got or 0)

    def close(self) -> None:
        """Standard input belongs to the process; it is left open."""


def stdin_source(
    stream: BinaryIO,
    sample_rate: int,
    channels: int,
    pace: Pace,
    ring_seconds: float,
    block_frames: int,
    ring_factory: Callable[[int], RingBuffer] = RingBuffer,
) -> ThreadedSource:
    """A :class:`ThreadedSource` reading raw float32 from ``stream`` (normally ``sys.stdin.buffer``)."""
    reader = RawFloat32Reader(stream, sample_rate, channels)
    mix = f"{channels} ch -> mono" if channels > 1 else "mono"
    description = f"raw float32 on stdin ({sample_rate} Hz, {mix}), {pace} pace"
    return ThreadedSource(reader, pace, ring_seconds, block_frames, description, ring_factory)

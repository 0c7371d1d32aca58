"""What every audio source provides, and the producer thread shared by the file and stdin sources.

A source owns a :class:`~streamer.ring.RingBuffer` of mono float32 samples at its own ``sample_rate``; the
engine is its only consumer (and resamples when that rate differs from the model's). Sources fill the ring
from another thread or from the audio callback and never do any work beyond reading, downmixing and copying.

Pacing of the threaded sources:

* ``"realtime"``: a block of ``n`` samples is written when its last sample would have arrived from a sound
  card started at the same moment (absolute schedule, no drift); when the ring is full the samples are
  dropped and counted, exactly as with a live input.
* ``"fast"``: as fast as the reader can go; when the ring is full the producer waits for space, so nothing is
  ever lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal, Protocol

import numpy as np

from damer_core.errors import AudioError
from streamer.ring import RingBuffer

Pace = Literal["realtime", "fast"]


class Source(Protocol):
    """An audio source feeding a ring buffer.

    Attributes:
        ring: the ring the source writes mono float32 samples into.
        sample_rate: rate of the samples in the ring, in Hz.
        description: one line for the terminal, e.g. ``"file song.ogg (44100 Hz, 2 ch -> mono), realtime"``.
        realtime: True when samples arrive at the pace of the audio (live input, or a file paced in real time).
        device_overflows: input overflows reported by the sound card driver (0 for threaded sources).
        lost: why the input ended by itself before its natural end (a sound card unplugged or stalled
            mid-stream), or None (always None for files and pipes, whose end is their natural end).
    """

    ring: RingBuffer
    sample_rate: int
    description: str
    realtime: bool
    device_overflows: int
    lost: str | None

    def start(self) -> None:
        """Start producing samples."""

    def stop(self) -> None:
        """Stop producing and release the device or file; idempotent."""

    @property
    def finished(self) -> bool:
        """True once no more samples will be written (end of file, or the device stream stopped)."""

    def check(self) -> None:
        """Raise the error that ended the producer early, if any (e.g. a decoding error mid-file)."""


class BlockReader(Protocol):
    """Reads mono float32 blocks from some input (file, pipe)."""

    sample_rate: int
    name: str

    def read(self, max_frames: int) -> np.ndarray:
        """Up to ``max_frames`` mono samples, shape ``(n,)`` float32; an empty array at the end of input."""

    def close(self) -> None:
        """Release the input."""


class ThreadedSource:
    """Runs a :class:`BlockReader` in a producer thread that writes into a ring at the chosen pace.

    Args:
        reader: where the samples come from.
        pace: ``"realtime"`` or ``"fast"`` (see the module docstring).
        ring_seconds: ring capacity in seconds of audio at the reader's rate.
        block_frames: samples per read (the granularity of delivery, like an audio callback's block).
        description: the line shown on the terminal.
        ring_factory: builds the ring from a capacity in samples (e.g. an instrumented ring in benchmarks).
    """

    device_overflows = 0
    lost = None

    def __init__(
        self,
        reader: BlockReader,
        pace: Pace,
        ring_seconds: float,
        block_frames: int,
        description: str,
        ring_factory: Callable[[int], RingBuffer] = RingBuffer,
    ) -> None:
        self._reader = reader
        self.pace = pace
        self.realtime = pace == "realtime"
        self.sample_rate = int(reader.sample_rate)
        self.ring = ring_factory(max(int(round(ring_seconds * self.sample_rate)), block_frames))
        self.description = description
        self._block_frames = int(block_frames)
        self._stop = threading.Event()
        self._done = threading.Event()
        self._error: AudioError | None = None
        self._thread = threading.Thread(target=self._produce, name=f"source:{reader.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.ring.wake()
        if self._thread.is_alive():
            # A reader blocked on a pipe cannot be interrupted; the daemon thread ends with the process.
            self._thread.join(timeout=1.0)
        if not self._thread.is_alive():
            self._reader.close()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    def _produce(self) -> None:
        try:
            if self.realtime:
                self._produce_realtime()
            else:
                self._produce_fast()
        except AudioError as exc:
            self._error = exc
        finally:
            self._done.set()
            self.ring.wake()

    def _produce_realtime(self) -> None:
        start = time.perf_counter()
        written = 0
        while not self._stop.is_set():
            block = self._reader.read(self._block_frames)
            if block.size == 0:
                return
            written += block.size
            delay = start + written / self.sample_rate - time.perf_counter()
            if delay > 0 and self._stop.wait(delay):
                return
            self.ring.write(block)

    def _produce_fast(self) -> None:
        while not self._stop.is_set():
            block = self._reader.read(self._block_frames)
            if block.size == 0:
                return
            offset = 0
            while offset < block.size:
                if not self.ring.wait_for_space(1, timeout=0.1):
                    if self._stop.is_set():
                        return
                    continue
                offset += self.ring.write(block[offset : offset + self.ring.free()])

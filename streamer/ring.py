"""RingBuffer: a single-producer / single-consumer float32 sample queue of fixed capacity.

The producer (an audio callback or a file-reading thread) calls :meth:`RingBuffer.write`; the consumer (the
engine thread) calls :meth:`RingBuffer.read_into` and :meth:`RingBuffer.discard`. Nothing is allocated after
construction: samples are copied into one preallocated array. When the ring is full the producer does not
block and does not overwrite: the samples that do not fit (the newest ones) are dropped and counted in
:attr:`RingBuffer.overrun_samples`.

Concurrency argument (CPython 3.11, with the global interpreter lock):

* Positions are two unbounded Python ints, ``_written`` (total samples ever written) and ``_read`` (total
  samples ever consumed). Only the producer stores ``_written`` and only the consumer stores ``_read``;
  each side merely loads the other's. A store or load of an attribute is a single bytecode and therefore
  atomic under the GIL: the other thread sees either the old or the new int object, never a torn value.
* Data before index: the producer copies the samples into the free region ``[_written, _read + capacity)``
  and only then publishes the new ``_written``; the consumer loads ``_written`` first and then copies out of
  ``[_read, _written)``, publishing the new ``_read`` only after the copy. NumPy may release the GIL during a
  large copy, but the publishing store is issued by the same thread after the copy returns, and every
  hand-over of the GIL between threads is a full memory barrier. So the consumer never reads a sample before
  it is completely written, and the producer never overwrites a sample before the consumer has finished
  copying it: the two regions are disjoint at every moment.
* This relies on the GIL. A free-threaded build (PEP 703) would need explicit atomics.

The consumer can sleep until enough data has arrived with :meth:`RingBuffer.wait_for`; the producer wakes
it through a :class:`threading.Event` after a write that reaches the amount waited for (``Event.set`` holds
the event's internal lock for a few instructions only, never while the consumer sleeps). So an engine
waiting for whole hops wakes once per hop, not once per (smaller) audio callback. Symmetrically a producer
that may block (a file read as fast as possible) sleeps in :meth:`RingBuffer.wait_for_space` and the
consumer wakes it after each read.
A real-time producer (the audio callback) never waits: it writes what fits and counts the rest.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    """Fixed-capacity SPSC ring of float32 samples.

    Args:
        capacity: number of samples the ring holds (> 0).

    Attributes:
        capacity: the fixed capacity in samples.
        overrun_samples: samples dropped by the producer because the ring was full (written by the producer).
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"ring capacity must be > 0 samples, got {capacity}")
        self.capacity = int(capacity)
        self._data = np.zeros(self.capacity, dtype=np.float32)
        self._written = 0
        self._read = 0
        self.overrun_samples = 0
        self._data_ready = threading.Event()
        self._space_ready = threading.Event()
        self._wanted = 1  # samples the sleeping consumer waits for (written by the consumer only)

    # ---- producer side -------------------------------------------------------------------------------
    def write(self, samples: np.ndarray) -> int:
        """Copy as many of ``samples`` (1-D, any float dtype) as fit; drop and count the rest.

        Returns:
            The number of samples written (the newest ``len(samples) - written`` are lost).
        """
        n = samples.shape[0]
        free = self.capacity - (self._written - self._read)
        if n > free:
            self.overrun_samples += n - free
            n = free
        if n > 0:
            self._copy_in(samples, n)
            self._written += n
        if self._written - self._read >= self._wanted:
            self._data_ready.set()
        return n

    def free(self) -> int:
        """Samples that can be written now without loss (a lower bound: the consumer may free more)."""
        return self.capacity - (self._written - self._read)

    def wait_for_space(self, n: int, timeout: float) -> bool:
        """Sleep until at least ``n`` samples can be written or ``timeout`` seconds pass (producers that
        may block, such as a file read as fast as possible, use this instead of overrunning).

        Returns:
            True when ``n`` samples of space are free.
        """
        if self.free() >= n:
            return True
        self._space_ready.clear()
        if self.free() >= n:  # a read between the check and clear() set the event before we cleared it
            return True
        self._space_ready.wait(timeout)
        return self.free() >= n

    def _copy_in(self, samples: np.ndarray, n: int) -> None:
        start = self._written % self.capacity
        first = min(n, self.capacity - start)
        self._data[start : start + first] = samples[:first]
        if first < n:
            self._data[: n - first] = samples[first:n]

    # ---- consumer side -------------------------------------------------------------------------------
    def available(self) -> int:
        """Samples ready to be read (a lower bound: the producer may add more)."""
        return self._written - self._read

    def read_into(self, out: np.ndarray) -> int:
        """Copy up to ``len(out)`` of the oldest samples into ``out`` (float32, 1-D) and consume them.

        Returns:
            The number of samples copied into ``out[:n]``.
        """
        n = min(out.shape[0], self._written - self._read)
        if n > 0:
            start = self._read % self.capacity
            first = min(n, self.capacity - start)
            out[:first] = self._data[start : start + first]
            if first < n:
                out[first:n] = self._data[: n - first]
            self._read += n
            self._space_ready.set()
        return n

    def discard(self, n: int) -> int:
        """Consume up to ``n`` of the oldest samples without copying them; returns how many were dropped."""
        n = max(0, min(n, self._written - self._read))
        self._read += n
        self._space_ready.set()
        return n

    def wait_for(self, n: int, timeout: float) -> bool:
        """Sleep until at least ``n`` samples are available or ``timeout`` seconds pass.

        Returns:
            True when ``n`` samples are available.
        """
        if self._written - self._read >= n:
            return True
        self._wanted = max(1, n)
        self._data_ready.clear()
        # Re-check after clearing: a write that landed between the first check and clear() published its
        # samples before testing the threshold, so they are seen here rather than waited for.
        if self._written - self._read >= n:
            return True
        self._data_ready.wait(timeout)
        return self._written - self._read >= n

    def wake(self) -> None:
        """Wake both sides from :meth:`wait_for` / :meth:`wait_for_space` (used to stop, or at end of input)."""
        self._data_ready.set()
        self._space_ready.set()

    @property
    def total_written(self) -> int:
        """Samples written since construction (the producer's position)."""
        return self._written

    @property
    def total_read(self) -> int:
        """Samples consumed since construction (the consumer's position)."""
        return self._read

"""RingBuffer: exact SPSC transfer under real concurrency, exact overrun accounting, waits and wake-ups."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from streamer.ring import RingBuffer


def test_sequential_fifo_across_wrap_around() -> None:
    ring = RingBuffer(10)
    out = np.zeros(10, dtype=np.float32)
    received = []
    value = 0.0
    for size in (3, 7, 4, 9, 1, 10, 5):
        block = np.arange(value, value + size, dtype=np.float32)
        value += size
        assert ring.write(block) == size
        n = ring.read_into(out)
        received.append(out[:n].copy())
    np.testing.assert_array_equal(np.concatenate(received), np.arange(value, dtype=np.float32))
    assert ring.overrun_samples == 0


def test_overruns_drop_the_newest_samples_and_count_them_exactly() -> None:
    ring = RingBuffer(8)
    assert ring.write(np.arange(5, dtype=np.float32)) == 5
    assert ring.write(np.arange(5, 11, dtype=np.float32)) == 3  # 5, 6, 7 fit; 8, 9, 10 are lost
    assert ring.overrun_samples == 3
    assert ring.write(np.ones(4, dtype=np.float32)) == 0
    assert ring.overrun_samples == 7
    out = np.zeros(16, dtype=np.float32)
    n = ring.read_into(out)
    np.testing.assert_array_equal(out[:n], np.arange(8, dtype=np.float32))
    assert ring.write(np.full(2, 42, dtype=np.float32)) == 2
    assert ring.read_into(out) == 2 and out[0] == 42
    assert ring.overrun_samples == 7


def test_discard_drops_the_oldest() -> None:
    ring = RingBuffer(8)
    ring.write(np.arange(6, dtype=np.float32))
    assert ring.discard(4) == 4
    assert ring.discard(10) == 2
    out = np.zeros(4, dtype=np.float32)
    ring.write(np.arange(100, 103, dtype=np.float32))
    assert ring.read_into(out) == 3
    np.testing.assert_array_equal(out[:3], [100, 101, 102])


def _produce(ring: RingBuffer, total: int, block_sizes: np.ndarray, pause_every: int) -> None:
    written = 0
    i = 0
    while written < total:
        size = int(min(block_sizes[i % len(block_sizes)], total - written))
        block = np.arange(written, written + size, dtype=np.float64).astype(np.float32)
        # Keep-up condition: wait for space (never write more than fits), like a paced producer.
        while ring.free() < size:
            time.sleep(0)
        assert ring.write(block) == size
        written += size
        i += 1
        if i % pause_every == 0:
            time.sleep(0.0001)


@pytest.mark.timeout(60)
def test_concurrent_producer_consumer_lose_and_duplicate_nothing(rng: np.random.Generator) -> None:
    total = 600_000  # float32 holds every integer below 2**24 exactly
    ring = RingBuffer(4099)
    sizes = rng.integers(1, 700, size=257)
    producer = threading.Thread(target=_produce, args=(ring, total, sizes, 7))
    received = np.zeros(total, dtype=np.float32)
    out = np.zeros(1000, dtype=np.float32)
    got = 0
    reads = rng.integers(1, 1000, size=101)
    producer.start()
    i = 0
    while got < total:
        ring.wait_for(1, timeout=0.5)
        n = ring.read_into(out[: reads[i % len(reads)]])
        received[got : got + n] = out[:n]
        got += n
        i += 1
    producer.join()
    np.testing.assert_array_equal(received, np.arange(total, dtype=np.float32))
    assert ring.overrun_samples == 0
    assert ring.available() == 0


@pytest.mark.timeout(60)
def test_concurrent_overruns_counted_exactly_when_the_consumer_falls_behind(rng: np.random.Generator) -> None:
    """A producer that never waits, a consumer that stalls: every sample is either received (in order,
    each once) or counted as lost, and the received ones are exactly the not-lost ones."""
    total = 300_000
    ring = RingBuffer(2048)
    sizes = rng.integers(1, 300, size=97)
    accepted: list[tuple[int, int]] = []  # (first sample value, count written) per producer write

    def produce() -> None:
        written, i = 0, 0
        while written < total:
            size = int(min(sizes[i % len(sizes)], total - written))
            n = ring.write(np.arange(written, written + size, dtype=np.float64).astype(np.float32))
            accepted.append((written, n))
            written += size
            i += 1
            if i % 50 == 0:
                time.sleep(0.0002)

    producer = threading.Thread(target=produce)
    producer.start()
    chunks = []
    out = np.zeros(512, dtype=np.float32)
    while producer.is_alive() or ring.available():
        n = ring.read_into(out)
        chunks.append(out[:n].copy())
        if len(chunks) % 20 == 0:
            time.sleep(0.003)  # stall: the ring fills up
    producer.join()
    chunks.append(out[: ring.read_into(out)].copy())
    received = np.concatenate(chunks)
    expected = np.concatenate([np.arange(first, first + n) for first, n in accepted if n]).astype(np.float32)
    np.testing.assert_array_equal(received, expected)
    assert ring.overrun_samples == total - received.size
    assert ring.overrun_samples > 0, "the consumer never fell behind: the test did not exercise overruns"


def test_wait_for_wakes_on_write_and_times_out() -> None:
    ring = RingBuffer(64)
    start = time.perf_counter()
    assert not ring.wait_for(1, timeout=0.05)
    assert time.perf_counter() - start >= 0.04
    timer = threading.Timer(0.05, ring.write, args=(np.ones(4, dtype=np.float32),))
    timer.start()
    start = time.perf_counter()
    assert ring.wait_for(4, timeout=5.0)
    assert time.perf_counter() - start < 2.0
    timer.join()


def test_wait_for_space_wakes_on_read() -> None:
    ring = RingBuffer(8)
    ring.write(np.ones(8, dtype=np.float32))
    assert not ring.wait_for_space(1, timeout=0.02)
    out = np.zeros(3, dtype=np.float32)
    timer = threading.Timer(0.05, ring.read_into, args=(out,))
    timer.start()
    assert ring.wait_for_space(3, timeout=5.0)
    timer.join()


def test_rejects_non_positive_capacity() -> None:
    with pytest.raises(ValueError):
        RingBuffer(0)


def test_wait_for_sleeps_through_writes_below_the_amount() -> None:
    ring = RingBuffer(64)
    woke = []

    def consumer() -> None:
        woke.append(ring.wait_for(10, timeout=5.0))
        woke.append(time.perf_counter())

    thread = threading.Thread(target=consumer)
    thread.start()
    time.sleep(0.05)
    ring.write(np.ones(4, dtype=np.float32))
    time.sleep(0.1)
    assert not woke, "woke up for 4 of the 10 samples waited for"
    written_at = time.perf_counter()
    ring.write(np.ones(6, dtype=np.float32))
    thread.join(timeout=5)
    assert woke[0] is True and woke[1] - written_at < 1.0

"""Small outputs and helpers: terminal meter, duration statistics, log file names."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from damer_core.errors import ConfigError
from streamer.log_out import open_log
from streamer.meter import TerminalMeter
from streamer.recorder import Recorder
from streamer.stats import DurationStats
from streamer.update import Update


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    """A monotonic clock that starts at ``origin`` seconds and moves only when told to."""

    def __init__(self, origin: float) -> None:
        self.now = origin

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("origin", [0.0, 5.0, 1e7], ids=["clock at 0", "just booted", "up for months"])
def test_meter_draws_the_first_update_at_once_then_at_most_every_interval(origin: float) -> None:
    screen, clock = FakeTerminal(), FakeClock(origin)
    meter = TerminalMeter(screen, interval_s=3600.0, clock=clock)
    meter.emit(Update(time=1.5, valence=0.5, arousal=-1.0, p_high_valence=0.75, p_high_arousal=0.0, compute_s=0.002))
    clock.now += 3599.0
    meter.emit(Update(time=1.6, valence=0.1, arousal=0.1))  # within the interval: not drawn
    assert screen.getvalue().count("\r") == 1
    clock.now += 1.0
    meter.emit(Update(time=1.7, valence=0.2, arousal=0.2))  # the interval has passed: drawn
    meter.close()
    text = screen.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n")
    assert "V +0.50 ----------|#####-----" in text
    assert "A -1.00 ##########|----------" in text
    assert "p(V high) 0.75" in text and "2.00 ms" in text
    assert TerminalMeter.wanted(FakeTerminal()) and not TerminalMeter.wanted(io.StringIO())


def test_duration_stats_match_numpy_percentiles(rng: np.random.Generator) -> None:
    samples = rng.lognormal(mean=np.log(2e-3), sigma=0.6, size=20_000)
    stats = DurationStats()
    for value in samples:
        stats.add(float(value))
    assert stats.count == samples.size
    assert stats.mean == pytest.approx(samples.mean(), rel=1e-9)
    assert stats.max == samples.max()
    for q in (50, 90, 99):
        assert stats.percentile(q) == pytest.approx(np.percentile(samples, q), rel=0.015)
    assert DurationStats().percentile(99) == 0.0


def test_log_needs_a_known_suffix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.csv or \.jsonl"):
        open_log(tmp_path / "log.txt")
    with pytest.raises(ConfigError, match="cannot create"):
        open_log(tmp_path / "missing-dir" / "log.csv")


def test_recorder_keeps_every_row_across_its_blocks() -> None:
    recorder = Recorder()
    assert recorder.table()["time"].shape == (0,)
    update = Update()
    n = 20000  # more than two preallocated blocks
    for i in range(n):
        update.time, update.valence, update.arousal = 0.01 * i, np.sin(i), np.cos(i)
        update.p_high_valence, update.p_high_arousal = i / n, 1 - i / n
        recorder.emit(update)
    table = recorder.table()
    i = np.arange(n)
    np.testing.assert_array_equal(table["time"], 0.01 * i)
    np.testing.assert_array_equal(table["valence"], np.sin(i))
    np.testing.assert_array_equal(table["arousal"], np.cos(i))
    np.testing.assert_array_equal(table["p_high_valence"], i / n)
    np.testing.assert_array_equal(table["p_high_arousal"], 1 - i / n)

"""The messages of the web outputs, made from what the engine hands over (a fake clock: no waiting)."""

from __future__ import annotations

import io
import json

import pytest

from streamer.log_out import JsonlLog
from streamer.monitor.feed import HISTORY_S, Ended, MonitorFeed, Sample, UpdateFeed
from streamer.update import StreamInfo, Update


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def update(index: int, interval: float = 0.025, compute_s: float = 0.002) -> Update:
    return Update(index, (index + 1) * interval, 0.5 - 0.01 * index, -0.25, 0.75, 0.125, compute_s)


def test_ws_messages_are_the_json_lines_records() -> None:
    feed = UpdateFeed()
    updates = [update(i) for i in range(3)]
    messages = feed.take([*updates, "not an update"])
    log = JsonlLog(io.StringIO(), compute=False)
    assert [json.loads(m) for m in messages] == [json.loads(log.line(u)) for u in updates]
    assert feed.greet() == [] and feed.tick_s is None


def test_monitor_messages() -> None:
    clock = FakeClock()
    feed = MonitorFeed("the model", clock)
    first, *_ = feed.take([])
    assert json.loads(first)["type"] == "stats"  # no info change yet: statistics only
    feed.begin(StreamInfo("file song.wav", True, 12345.0, 0.025))
    clock.now += 0.1
    samples = [Sample(update(i), clock.now - 0.01, 0.004, 0.5, 0.25, 2) for i in range(4)]
    messages = [json.loads(m) for m in feed.take(samples)]
    assert [m["type"] for m in messages] == ["info", "update", "update", "update", "update"]  # stats: not yet due
    info, last = messages[0], messages[-1]
    assert info["model"] == "the model" and info["input"] == "file song.wav" and info["realtime"] is True
    assert info["update_interval_s"] == 0.025 and len(info["stream"]) == 8
    assert last["index"] == 3 and last["time"] == 0.1 and last["valence"] == pytest.approx(0.47)
    assert last["p_high_valence"] == 0.75 and last["p_high_arousal"] == 0.125 and last["compute_ms"] == 2.0
    assert last["age_ms"] == pytest.approx(14.0)  # 4 ms from capture to hand-over + 10 ms since

    clock.now += 0.5
    (stats,) = [json.loads(m) for m in feed.take([])]
    assert stats == {
        "type": "stats",
        "updates": 4,
        "updates_per_s": 2.0,  # 4 hand-overs within the last 2 s
        "compute_mean_ms": pytest.approx(2.0),
        "compute_p99_ms": pytest.approx(2.0),
        "overrun_s": 0.5,
        "skipped_s": 0.25,
        "skips": 2,
    }


def test_updates_per_second_count_hand_overs_in_the_last_two_seconds() -> None:
    clock = FakeClock()
    feed = MonitorFeed("m", clock)
    feed.take([])
    samples = [Sample(update(i), clock.now + i * 0.025, None, 0.0, 0.0, 0) for i in range(120)]  # 3 s at 40/s
    clock.now += 3.0
    stats = json.loads(feed.take(samples)[-1])
    assert stats["type"] == "stats" and stats["updates_per_s"] == pytest.approx(40.0, abs=0.5)


def test_compute_p99() -> None:
    clock = FakeClock()
    feed = MonitorFeed("m", clock)
    feed.take([])
    clock.now += 1.0
    samples = [Sample(update(i, compute_s=0.001 * (1 + i)), clock.now, None, 0.0, 0.0, 0) for i in range(100)]
    stats = json.loads(feed.take(samples)[-1])
    assert stats["compute_p99_ms"] == pytest.approx(99.0) and stats["compute_mean_ms"] == pytest.approx(50.5)


def test_age_without_a_real_time_source_counts_from_the_hand_over() -> None:
    clock = FakeClock()
    feed = MonitorFeed("m", clock)
    (message, _) = feed.take([Sample(update(0), clock.now - 0.25, None, 0.0, 0.0, 0)])
    assert json.loads(message)["age_ms"] == pytest.approx(250.0)


def test_a_new_page_gets_the_info_the_last_minute_and_statistics() -> None:
    clock = FakeClock()
    feed = MonitorFeed("m", clock)
    interval = 0.5
    feed.take([Sample(update(i, interval), clock.now, None, 0.0, 0.0, 0) for i in range(200)])  # 100 s
    info, history, stats = (json.loads(m) for m in feed.greet())
    assert info["type"] == "info" and info["input"] is None
    assert history["type"] == "history" and stats["type"] == "stats" and stats["updates"] == 200
    assert history["time"][-1] == 100.0 and history["time"][0] == pytest.approx(100.0 - HISTORY_S)
    assert len(history["time"]) == len(history["valence"]) == len(history["arousal"]) == int(HISTORY_S / interval) + 1
    assert history["valence"][-1] == pytest.approx(0.5 - 0.01 * 199, abs=1e-4)


def test_the_end_and_a_new_stream() -> None:
    feed = MonitorFeed("m", FakeClock())
    assert json.loads(feed.take([Ended("end of input")])[0]) == {"type": "end", "stopped_by": "end of input"}
    first = json.loads(feed.greet()[0])["stream"]
    assert json.loads(MonitorFeed("m", FakeClock()).greet()[0])["stream"] != first


def test_age_is_never_negative() -> None:
    clock = FakeClock()
    feed = MonitorFeed("m", clock)
    (message, _) = feed.take([Sample(update(0), clock.now, -0.004, 0.0, 0.0, 0)])
    assert json.loads(message)["age_ms"] == 0.0

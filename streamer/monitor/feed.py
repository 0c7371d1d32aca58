"""What the web outputs send: the messages of ``--ws`` and of the monitor's page, made on the server's loop
thread from the items the engine hands over (:class:`~streamer.monitor.server.Channel`).

``--ws`` (:class:`UpdateFeed`): one JSON object per update, the same record as a JSON Lines log without its
compute time::

    {"time": 12.345678, "valence": 0.12, "arousal": -0.3, "p_high_valence": 0.61, "p_high_arousal": 0.2}

The monitor's page (:class:`MonitorFeed`): JSON objects told apart by ``type``:

* ``info``: ``stream`` (an id, new for every ``damer stream`` run), ``model``, ``input`` (null until the
  first audio arrives), ``realtime``, ``update_interval_s``.
* ``history``: the last :data:`HISTORY_S` seconds of audio time as arrays ``time``, ``valence``, ``arousal``
  (sent once, to a page that connects).
* ``update``: an update (the ``--ws`` fields) and ``index``, ``compute_ms`` (engine time for it) and
  ``age_ms``: wall time from the capture of its last sample (real-time sources; otherwise from its hand-over
  by the engine) to the moment the message was queued for the page.
* ``stats`` (every :data:`STATS_INTERVAL_S` while a page is connected): ``updates`` so far, ``updates_per_s``
  over the last :data:`RATE_WINDOW_S`, ``compute_mean_ms`` and ``compute_p99_ms`` over the last
  :data:`COMPUTE_WINDOW` updates, ``overrun_s``, ``skipped_s`` and ``skips`` since the start.
* ``end``: ``stopped_by``, the engine's reason for stopping.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamer.log_out import update_record
from streamer.update import StreamInfo, Update

HISTORY_S = 60.0
"""Audio time a page is sent when it connects, in seconds."""

STATS_INTERVAL_S = 0.5
RATE_WINDOW_S = 2.0
COMPUTE_WINDOW = 512


@dataclass(frozen=True, slots=True)
class Sample:
    """One update as the engine handed it to the monitor.

    Attributes:
        update: a copy of the engine's update.
        emitted: monotonic clock at the hand-over, in seconds.
        lag_s: wall time from the capture of the update's last sample to the hand-over, in seconds (real-time
            sources; None otherwise).
        overrun_s, skipped_s, skips: the engine's totals so far (:class:`~streamer.engine.RunSummary`).
    """

    update: Update
    emitted: float
    lag_s: float | None
    overrun_s: float
    skipped_s: float
    skips: int


@dataclass(frozen=True, slots=True)
class Ended:
    """The stream has ended, for this reason (:attr:`~streamer.engine.RunSummary.stopped_by`)."""

    stopped_by: str


def _json(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class UpdateFeed:
    """``--ws``: every :class:`~streamer.update.Update` handed over becomes one message."""

    tick_s: float | None = None

    def take(self, items: list[Any]) -> list[str]:
        return [_json(update_record(item)) for item in items if isinstance(item, Update)]

    def greet(self) -> list[str]:
        return []


class MonitorFeed:
    """The monitor's page: stream information, updates with their age, history for new pages, statistics.

    Args:
        model: one line naming the model bundle.
        clock: the monotonic clock the engine's hand-over times come from, in seconds.
    """

    tick_s: float | None = STATS_INTERVAL_S

    def __init__(self, model: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._info: dict[str, Any] = {
            "type": "info",
            "stream": secrets.token_hex(4),
            "model": model,
            "input": None,
            "realtime": None,
            "update_interval_s": None,
        }
        self._info_changed = False
        self._history: deque[tuple[float, float, float]] = deque()
        self._emitted: deque[float] = deque()
        self._compute: deque[float] = deque(maxlen=COMPUTE_WINDOW)
        self._last: Sample | None = None
        self._stats_at = -math.inf

    def begin(self, info: StreamInfo) -> None:
        """The first audio has arrived (called on the loop thread)."""
        self._info.update(input=info.source, realtime=info.realtime, update_interval_s=info.update_interval_s)
        self._info_changed = True

    def take(self, items: list[Any]) -> list[str]:
        messages = [_json(self._info)] if self._info_changed else []
        self._info_changed = False
        now = self._clock()
        for item in items:
            if isinstance(item, Sample):
                messages.append(_json(self._update(item, now)))
            elif isinstance(item, Ended):
                messages.append(_json({"type": "end", "stopped_by": item.stopped_by}))
        if now - self._stats_at >= STATS_INTERVAL_S:
            self._stats_at = now
            messages.append(_json(self._statistics(now)))
        return messages

    def greet(self) -> list[str]:
        latest = self._history[-1][0] if self._history else 0.0
        recent = [h for h in self._history if h[0] >= latest - HISTORY_S]
        history = {
            "type": "history",
            "time": [round(t, 4) for t, _, _ in recent],
            "valence": [round(v, 4) for _, v, _ in recent],
            "arousal": [round(a, 4) for _, _, a in recent],
        }
        return [_json(self._info), _json(history), _json(self._statistics(self._clock()))]

    def _update(self, sample: Sample, now: float) -> dict[str, Any]:
        update = sample.update
        self._last = sample
        self._history.append((update.time, update.valence, update.arousal))
        while self._history[0][0] < update.time - HISTORY_S:
            self._history.popleft()
        self._emitted.append(sample.emitted)
        self._compute.append(update.compute_s)
        # At 0 at least: audio time 0 is placed from the arrival of the first block, which can make the capture
        # of a real-time update seem a few milliseconds in the future.
        age_s = max(0.0, (sample.lag_s or 0.0) + now - sample.emitted)
        return {
            "type": "update",
            "index": update.index,
            **update_record(update),
            "compute_ms": round(1000.0 * update.compute_s, 4),
            "age_ms": round(1000.0 * age_s, 2),
        }

    def _statistics(self, now: float) -> dict[str, Any]:
        while self._emitted and self._emitted[0] < now - RATE_WINDOW_S:
            self._emitted.popleft()
        compute = sorted(self._compute)
        last = self._last
        return {
            "type": "stats",
            "updates": last.update.index + 1 if last else 0,
            "updates_per_s": len(self._emitted) / RATE_WINDOW_S,
            "compute_mean_ms": 1000.0 * sum(compute) / len(compute) if compute else None,
            "compute_p99_ms": 1000.0 * compute[math.ceil(0.99 * len(compute)) - 1] if compute else None,
            "overrun_s": last.overrun_s if last else 0.0,
            "skipped_s": last.skipped_s if last else 0.0,
            "skips": last.skips if last else 0,
        }

"""The record the engine hands to its outputs once per model token, and the outputs' protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)
class Update:
    """One estimate of the music's emotion.

    The engine reuses one instance for every update: an output must copy what it keeps.

    Attributes:
        index: 0, 1, 2, ... in order of emission.
        time: audio time in seconds since the start of the stream at which the update's last input sample
            was captured: the end of the token's last feature frame (skipped and lost audio count as time).
        valence: valence in [-1, 1] (smoothed when smoothing is on).
        arousal: arousal in [-1, 1] (smoothed when smoothing is on).
        p_high_valence: probability that valence is high (sigmoid of the model's logit; smoothed likewise).
        p_high_arousal: probability that arousal is high.
        compute_s: engine time spent on the block that completed this update (resampling, front-end,
            model), divided by the number of updates that block completed, in seconds.
    """

    index: int = 0
    time: float = 0.0
    valence: float = 0.0
    arousal: float = 0.0
    p_high_valence: float = 0.0
    p_high_arousal: float = 0.0
    compute_s: float = 0.0


@dataclass(frozen=True)
class StreamInfo:
    """What outputs learn when the first audio arrives.

    Attributes:
        source: one-line description of the audio source.
        realtime: True when the audio arrives at its own pace (live input or real-time pacing).
        origin_unix: wall-clock time (Unix seconds) of audio time 0 for a real-time source: the arrival of
            the first samples minus their duration; None when the source runs as fast as possible.
        update_interval_s: audio seconds between two updates (one model token).
    """

    source: str
    realtime: bool
    origin_unix: float | None
    update_interval_s: float


class Emitter(Protocol):
    """An output of the engine (OSC, log file, terminal meter, ...)."""

    def begin(self, info: StreamInfo) -> None:
        """Called once, when the first audio arrives, before the first :meth:`emit`."""

    def emit(self, update: Update) -> None:
        """Called for every update, in order, from the engine thread; must not block."""

    def close(self) -> None:
        """Flush and release; called once at the end, also after errors."""

"""The engine: ring buffer -> (resampler) -> front-end -> streaming DAMER -> smoothing -> outputs.

One code path for every source. ``damer stream`` runs it on a live input or a file at real-time pace;
``damer analyze`` runs it on a file read as fast as possible. On a file read at fast pace with smoothing off,
the updates are exactly the offline computation: ``torchaudio`` resampling of the whole file (when its rate
differs), ``frontend_offline`` and ``DamerModel.forward``, with update ``n`` at the audio time
``model.token_end_seconds(n)``.

Loop: sleep until the audio for the next update has arrived (the producer wakes the engine), read it from
the ring — from a real-time source exactly up to the end of the last token it completes when no resampling
is needed, so each update costs one wake-up and one push through the stages; from a fast source in fixed
quanta, so that the blocks (and with them every rounding) depend only on the input and the same file gives
the same numbers on every run — and push it through; each model token that completes is one
:class:`~streamer.update.Update`, handed to every output in order.

Robustness decisions:

* **Non-finite samples** (NaN, ±inf from a broken driver or pipe) are replaced by 0 before any processing
  and counted; a live show must not stop on one glitch. The count is in the summary.
* **Falling behind** (real-time sources only): when more than ``max_lag_s`` of audio waits in the ring, the
  engine drops the oldest audio, keeping just enough of the newest to complete one token from a fresh
  front-end (``win_length + (frames_per_token - 1) * hop`` samples, plus the resampler's look-ahead), and
  counts the dropped seconds. The dropped
  audio is a discontinuity, so the resampler and the front-end are reset: every feature frame is computed
  from contiguous audio, and the splice never produces a click or a frame mixing audio from both sides.
  The model keeps its state: its context is seconds long, its past tokens are still the most recent music
  it has heard, and resetting it would throw that context away and restart its warm-up. (A token that was
  half filled before the skip is completed by the first frame after it.) Audio time keeps counting the
  skipped audio, so update times stay aligned with the input.
* **Overruns** (the ring was full and the source had to drop samples: the engine stalled for a whole ring)
  are handled like a skip: what is in the ring is older than the lost samples, so it is dropped too, the
  lost samples are added to the audio time, and the stages restart on the newest audio.
* With a fast source nothing is ever skipped: the source waits for space instead.

Stops at the end of the input (the resampler is flushed; frames and tokens that cannot complete are not
emitted, as offline), after ``duration_s`` seconds of audio (treated as the end of the input), or when
``stop`` is set (from a signal handler: Ctrl-C, SIGTERM), within 50 ms. The source is always stopped and
every output closed, also after an error.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from damer_core.features.frontend import FrameViews
from damer_core.features.signal import SAMPLE_LIMIT
from damer_core.spec import FeatureSpec
from streamer.resample import SourceResampler
from streamer.sanitize import sanitize
from streamer.smoothing import OnePoleSmoother
from streamer.sources.base import Source
from streamer.stats import DurationStats
from streamer.update import Emitter, StreamInfo, Update

_WAIT_S = 0.05
FAST_QUANTUM = 16384
"""Input samples per read from a fast (not real-time) source."""


class FrontEndStream(Protocol):
    """The streaming front-end (``damer_core.features.frontend.FrontEnd``)."""

    def push(self, samples: np.ndarray) -> FrameViews:
        """Mono float32 samples -> every view's frames completed (mel ``(k, n_mels)`` first)."""

    def reset(self) -> None:
        """Start a new stream."""


class ModelStream(Protocol):
    """The streaming model (``damer_core.model.StreamingDamer``)."""

    tokens: int

    def push(self, mel: np.ndarray, coch: np.ndarray, musicnn: np.ndarray | None = None):  # noqa: ANN201 - DamerOutput
        """New frames of every view -> outputs of the tokens they complete."""

    def reset(self) -> None:
        """Start a new stream."""


@dataclass
class RunSummary:
    """What a run did; :meth:`lines` is what the commands print at the end.

    Attributes:
        audio_s: audio time covered, in seconds (processed + skipped + lost).
        updates: updates emitted.
        overrun_s: audio lost because the ring buffer was full, in seconds.
        skipped_s: audio dropped to catch up with a real-time source, in seconds.
        skips: how many times the engine skipped.
        nonfinite_samples: NaN/inf input samples replaced by 0.
        clipped_samples: finite input samples beyond ``SAMPLE_LIMIT`` in magnitude (damaged data), clipped to it.
        device_overflows: input overflows reported by the sound card driver.
        compute: per-update compute times (see :attr:`Update.compute_s`).
        frontend_s, model_s, emit_s: total time in resampling + front-end, in the model, in the outputs.
        wall_s: wall time from the start of the source to the end; cpu_s: CPU time of the whole process
            (all threads) over the same span.
        stopped_by: ``"end of input"``, ``"duration"`` or ``"stop request"``.
    """

    audio_s: float = 0.0
    updates: int = 0
    overrun_s: float = 0.0
    skipped_s: float = 0.0
    skips: int = 0
    nonfinite_samples: int = 0
    clipped_samples: int = 0
    device_overflows: int = 0
    compute: DurationStats = field(default_factory=DurationStats)
    frontend_s: float = 0.0
    model_s: float = 0.0
    emit_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    stopped_by: str = "end of input"

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line."""
        speed = self.audio_s / self.wall_s if self.wall_s > 0 else 0.0
        return [
            f"stopped by: {self.stopped_by}",
            f"audio: {self.audio_s:.2f} s in {self.wall_s:.2f} s wall ({speed:.1f}x real time)",
            f"updates: {self.updates}",
            f"compute per update: mean {1000 * self.compute.mean:.3f} ms, "
            f"p99 {1000 * self.compute.percentile(99):.3f} ms",
            f"overruns: {self.overrun_s:.3f} s lost; "
            f"skipped to catch up: {self.skipped_s:.3f} s in {self.skips} skip(s)",
            f"non-finite input samples replaced by 0: {self.nonfinite_samples}",
            f"input samples beyond +-{SAMPLE_LIMIT:g} clipped: {self.clipped_samples}",
            f"sound card input overflows: {self.device_overflows}",
            f"CPU: {100 * self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0:.1f} % of one core",
        ]


class Engine:
    """Runs one source through the front-end and the model to the outputs.

    Args:
        source: the audio source (not yet started).
        frontend: streaming front-end for ``spec`` (fresh).
        model: streaming model (fresh); ``model.model.frames_per_token`` frames make one token.
        spec: the feature spec of the model (its ``sample_rate``, ``hop`` and ``win_length`` frame the audio).
        emitters: outputs, called in this order.
        smoothing_s: one-pole time constant in seconds, 0 = off.
        max_lag_s: real-time sources: skip to the newest audio beyond this backlog.
        duration_s: stop after this many seconds of audio; None = until the input ends or a stop request.
    """

    def __init__(
        self,
        source: Source,
        frontend: FrontEndStream,
        model: ModelStream,
        spec: FeatureSpec,
        emitters: Sequence[Emitter],
        smoothing_s: float = 0.0,
        max_lag_s: float = 0.25,
        duration_s: float | None = None,
    ) -> None:
        self.source = source
        self.frontend = frontend
        self.model = model
        self.spec = spec
        self.emitters = list(emitters)
        self.smoother = OnePoleSmoother(smoothing_s, 4)
        self.duration_s = duration_s
        self._frames_per_token = int(model.model.frames_per_token)
        self._in_rate = int(source.sample_rate)
        self._rate = int(spec.sample_rate)
        self._resampler = None if self._in_rate == self._rate else SourceResampler(self._in_rate, self._rate)
        self._buffer = np.zeros(source.ring.capacity, dtype=np.float32)
        self._finite = np.zeros(source.ring.capacity, dtype=bool)
        self._token_span = self._frames_per_token * spec.hop  # model-rate samples between two updates
        look_ahead = 0 if self._resampler is None else self._resampler.latency_samples
        # After a skip: enough of the newest audio to complete one token from a fresh front-end.
        first_token = spec.win_length + (self._frames_per_token - 1) * spec.hop
        self._keep_after_skip = math.ceil(first_token * self._in_rate / self._rate) + look_ahead
        self._max_lag = max(int(max_lag_s * self._in_rate), self._keep_after_skip + self._token_span)
        self._update = Update()
        self._values = [0.0, 0.0, 0.0, 0.0]
        self.summary = RunSummary()
        self._position = 0  # absolute input position (source samples) of the next sample in the ring
        self._overruns_seen = 0
        self._segment_start_s = 0.0  # audio time of the first sample since the last reset of the stages
        self._segment_samples = 0  # input samples pushed since then
        self._segment_frames = 0  # feature frames emitted since then
        self._model_pending = 0  # frames in the model that do not yet make a token

    # ------------------------------------------------------------------ run

    def run(self, stop: threading.Event | None = None) -> RunSummary:
        """Process until the input ends, ``duration_s`` is reached or ``stop`` is set; returns the summary.

        Raises:
            AudioError: the source failed part-way (e.g. a decoding error in a file).
            DeviceError: the sound card could not be started.
        """
        stop = stop if stop is not None else threading.Event()
        summary = self.summary
        with ExitStack() as cleanup:
            for emitter in reversed(self.emitters):
                cleanup.callback(emitter.close)
            cleanup.callback(self.source.stop)
            self.warm_up()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            self.source.start()
            summary.stopped_by = self._loop(stop)
            summary.wall_s = time.perf_counter() - wall0
            summary.cpu_s = time.process_time() - cpu0
        summary.device_overflows = self.source.device_overflows
        summary.audio_s = self._position / self._in_rate
        return summary

    def warm_up(self) -> None:
        """Run every stage once on silence, then reset it: the first call of a stage pays one-off costs (JIT
        compilation or cache loading, allocator warm-up) that would otherwise delay the first real audio by
        up to seconds and make a live stream skip right at its start."""
        n = math.ceil((self.spec.win_length + 2 * self._frames_per_token * self.spec.hop) * self._in_rate / self._rate)
        silence = self._buffer[:n]  # the arrays of the real path, so JIT-compiled kernels see the same types
        silence[:] = 0.0
        samples = silence
        if self._resampler is not None:
            samples = self._resampler.push(silence)
            self._resampler.reset()
        self.model.push(*self.frontend.push(samples))
        self.frontend.reset()
        self.model.reset()

    def _loop(self, stop: threading.Event) -> str:
        ring = self.source.ring
        limit = None if self.duration_s is None else int(round(self.duration_s * self._in_rate))
        started = False
        while not stop.is_set():
            if not self.source.finished:
                ring.wait_for(self._wanted(), _WAIT_S)
            finished = self.source.finished  # read before available(): all samples are in by then
            if self.source.realtime:
                self._catch_up()
            available = ring.available()
            if available and not started:
                started = True
                self._begin()
            take = self._take(available, finished)
            if limit is not None:
                take = min(take, limit - self._position)
            if take > 0:
                n = ring.read_into(self._buffer[:take])
                self._process(self._buffer[:n])
            if limit is not None and self._position >= limit:
                self._finish()
                return "duration"
            if finished and ring.available() == 0:
                self.source.check()
                self._finish()
                return "end of input"
        return "stop request"

    def _wanted(self) -> int:
        """Input samples to wait for before the next read: a real-time source is read as soon as its next
        update can be computed; a fast source in fixed quanta (see :meth:`_take`)."""
        return self._until_next_token() if self.source.realtime else self._fast_quantum()

    def _take(self, available: int, finished: bool) -> int:
        """How much of ``available`` to read now.

        A real-time source: everything that completes an update (all of it once the input has ended). A
        fast source: exactly :meth:`_fast_quantum` samples, or what is left once the input has ended, so
        that the blocks pushed through the stages depend only on the input, never on how far the reading
        thread happened to be: the same file gives the same numbers, bit for bit, on every run.
        """
        if self.source.realtime:
            return available if finished else self._whole_tokens(available)
        quantum = self._fast_quantum()
        if available >= quantum:
            return quantum
        return available if finished else 0

    def _fast_quantum(self) -> int:
        """The fixed read size of a fast source: about :data:`FAST_QUANTUM` samples (at most half the ring),
        ending on a token boundary when no resampler sits between."""
        target = min(FAST_QUANTUM, self.source.ring.capacity // 2)
        if self._resampler is not None:
            return target
        need = self._until_next_token()
        return need + max(0, target - need) // self._token_span * self._token_span

    def _until_next_token(self) -> int:
        """Input samples still missing for the next update (1 when a resampler sits between: any amount)."""
        if self._resampler is not None:
            return 1
        last_frame = self._segment_frames + self._frames_per_token - self._model_pending - 1
        return self.spec.win_length + last_frame * self.spec.hop - self._segment_samples

    def _whole_tokens(self, available: int) -> int:
        """How much of ``available`` to read now: at the model's rate, exactly up to the last update it
        completes (each push then ends on a token boundary: one front-end call and one wake-up per update,
        no work on a partial token); through a resampler, everything."""
        if self._resampler is not None:
            return available
        need = self._until_next_token()
        if available < need:
            return 0
        return need + (available - need) // self._token_span * self._token_span

    def _begin(self) -> None:
        origin = None
        if self.source.realtime:
            origin = time.time() - self.source.ring.total_written / self._in_rate
        interval = self._frames_per_token * self.spec.hop / self._rate
        info = StreamInfo(self.source.description, self.source.realtime, origin, interval)
        for emitter in self.emitters:
            emitter.begin(info)

    # ------------------------------------------------------------------ keeping up

    def _catch_up(self) -> None:
        """Handle overruns and a backlog beyond ``max_lag_s`` (real-time sources only)."""
        ring = self.source.ring
        lost = ring.overrun_samples - self._overruns_seen
        if lost > 0:
            self._overruns_seen += lost
            self.summary.overrun_s += lost / self._in_rate
            dropped = ring.discard(ring.available())
            self._position += dropped + lost
            self.summary.skipped_s += dropped / self._in_rate
            self.summary.skips += 1
            self._restart_stages()
            return
        backlog = ring.available()
        if backlog > self._max_lag:
            dropped = ring.discard(backlog - self._keep_after_skip)
            self._position += dropped
            self.summary.skipped_s += dropped / self._in_rate
            self.summary.skips += 1
            self._restart_stages()

    def _restart_stages(self) -> None:
        if self._resampler is not None:
            self._resampler.reset()
        self.frontend.reset()
        self._segment_start_s = self._position / self._in_rate
        self._segment_samples = 0
        self._segment_frames = 0

    # ------------------------------------------------------------------ processing

    def _process(self, block: np.ndarray) -> None:
        t0 = time.perf_counter()
        n = block.shape[0]
        nonfinite, clipped = sanitize(block, self._finite[:n])
        self.summary.nonfinite_samples += nonfinite
        self.summary.clipped_samples += clipped
        self._position += n
        self._segment_samples += n
        samples = block if self._resampler is None else self._resampler.push(block)
        self._frames(samples, t0)

    def _finish(self) -> None:
        if self._resampler is not None:
            t0 = time.perf_counter()
            self._frames(self._resampler.flush(), t0)

    def _frames(self, samples: np.ndarray, t0: float) -> None:
        views = self.frontend.push(samples)
        t1 = time.perf_counter()
        self.summary.frontend_s += t1 - t0
        k = views.mel.shape[0]
        if k == 0:
            return
        first_frame = self._segment_frames
        self._segment_frames += k
        pending = self._model_pending
        output = self.model.push(*views)
        n_tokens = (pending + k) // self._frames_per_token
        self._model_pending = (pending + k) % self._frames_per_token
        t2 = time.perf_counter()
        self.summary.model_s += t2 - t1
        if n_tokens == 0:
            return
        va = output.va[0].tolist()
        p_high = torch.sigmoid(output.logits[0]).tolist()
        compute = (t2 - t0) / n_tokens
        spec, per_token = self.spec, self._frames_per_token
        update, values = self._update, self._values
        for m in range(n_tokens):
            # The token's last frame, counted among the frames of this push.
            frame = first_frame + (m + 1) * per_token - 1 - pending
            update.time = self._segment_start_s + (frame * spec.hop + spec.win_length) / self._rate
            values[0], values[1] = va[m]
            values[2], values[3] = p_high[m]
            self.smoother(update.time, values)
            update.valence, update.arousal, update.p_high_valence, update.p_high_arousal = values
            update.compute_s = compute
            self.summary.compute.add(compute)
            for emitter in self.emitters:
                emitter.emit(update)
            update.index += 1
        self.summary.updates += n_tokens
        self.summary.emit_s += time.perf_counter() - t2

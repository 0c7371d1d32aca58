"""Soak test: many hours of audio streamed through the engine at fast pace, watching for slow leaks and drift.

The audio is a playlist looped in this process (nothing long is written to disk): real music (the 44.1 kHz OGG
tracks under ``data/music``, made by ``python -m train.fetch_music --out data/music``, decoded block by block,
each file opened anew on every pass) taking turns with synthetic segments generated on the fly (chords, noise,
digital silence, full-scale square bursts and short NaN bursts). It goes through the same source, ring buffer,
resampler, front-end, streaming model and output path as ``damer stream --pace fast``; an output on the engine
thread counts every update and, every ``--sample-every`` seconds of audio, samples the process: resident
memory, open file descriptors, OS threads, CPU time.

Reported (table per audio hour, then a summary and the targets):

* ``rss_start_mb`` (after ``--warm-up`` minutes of audio), ``rss_end_mb``, ``rss_growth_percent`` (target <= 5);
* ``fd_growth``, ``thread_growth``: the most descriptors / threads seen in the last hour minus the most seen in
  the first hour after the warm-up (target <= 0: a file may or may not be open at any one sample);
* ``compute_p99_ms_first_hour`` / ``compute_p99_ms_last_hour``: the engine's per-update compute (resampling,
  front-end and model, wall time), p99 per audio hour (target: last within 10 % of first; wall time moves
  with the machine's other load, so the CPU milliseconds per update are shown beside it);
* ``overruns`` (seconds of audio lost to a full ring: 0 at fast pace, where the source waits), ``skips``;
* ``nonfinite_outputs``: updates with a NaN or infinite value (target 0), ``nonfinite_samples`` (the NaN
  bursts, replaced by 0 by the engine).

Linux only (``/proc/self``). Without a trained default bundle the model is the default configuration with
random weights (the same cost; the outputs mean nothing).

    nice python -m bench.soak [--hours 10] [--model BUNDLE] [--json PATH]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
import torch

from bench.report import machine_line, write_json
from damer_core.bundle import default_bundle_path, random_bundle
from streamer.builder import FAST_BLOCK, build_engine, describe_bundle, load_model
from streamer.settings import StreamSettings
from streamer.sources.base import ThreadedSource
from streamer.sources.file import SoundFileReader
from streamer.stats import DurationStats
from streamer.update import StreamInfo, Update

MUSIC_DIR = Path("data/music")
RATE = 44100
"""Sample rate of the playlist (the music tracks at this rate; the synthetic segments are made at it)."""


class SyntheticSegment:
    """Hostile but musical audio generated block by block: a chord every half second (three partials,
    decaying), a little noise, 2 s of digital silence every 61 s, a 0.5 s full-scale square burst every
    37 s and a 10 ms NaN burst every 113 s. Deterministic for a seed and a block size.

    Args:
        seconds: length of the segment.
        seed: the chords and the noise.
        rate: sample rate in Hz.
    """

    def __init__(self, seconds: float, seed: int, rate: int = RATE) -> None:
        self.sample_rate = rate
        self.name = f"synthetic #{seed}"
        self._frames = int(seconds * rate)
        self._position = 0
        self._rng = np.random.default_rng(seed)
        self._roots = 110.0 * 2.0 ** (self._rng.integers(0, 24, 997) / 12.0)

    def read(self, max_frames: int) -> np.ndarray:
        n = min(max_frames, self._frames - self._position)
        t = (self._position + np.arange(n)) / self.sample_rate
        self._position += n
        beat = np.floor(t / 0.5).astype(np.int64)
        since = t - 0.5 * beat
        root = self._roots[beat % self._roots.size]
        phase = 2 * np.pi * root * since
        audio = np.exp(-4.0 * since) * (0.2 * np.sin(phase) + 0.12 * np.sin(1.5 * phase) + 0.08 * np.sin(2 * phase))
        audio += 0.01 * self._rng.standard_normal(n)
        audio[(t % 61.0) < 2.0] = 0.0
        burst = (t % 37.0) < 0.5
        audio[burst] = np.sign(np.sin(2 * np.pi * 220.0 * t[burst]))
        audio[(t % 113.0) < 0.01] = np.nan
        return audio.astype(np.float32)

    def close(self) -> None:
        """Nothing to release."""


class Playlist:
    """A :class:`~streamer.sources.base.BlockReader` that plays its segments one after the other, round and
    round, until ``seconds`` of audio have been delivered. Each segment is opened when its turn comes and
    closed when it ends (real files are opened anew on every pass).

    Args:
        openers: each returns a fresh reader of one segment at ``rate`` (``read(n)``, ``close()``).
        rate: the sample rate every segment has.
        seconds: total audio to deliver.
    """

    def __init__(self, openers: Sequence[Callable[[], object]], rate: int, seconds: float) -> None:
        self.sample_rate = rate
        self.name = "soak playlist"
        self._openers = list(openers)
        self._left = int(seconds * rate)
        self._next = 0
        self._current = None
        self.segments_played = 0

    def read(self, max_frames: int) -> np.ndarray:
        while self._left > 0:
            if self._current is None:
                self._current = self._openers[self._next % len(self._openers)]()
                self._next += 1
                if int(self._current.sample_rate) != self.sample_rate:
                    raise ValueError(
                        f"{self._current.name}: {self._current.sample_rate} Hz in a {self.sample_rate} Hz playlist"
                    )
            block = self._current.read(min(max_frames, self._left))
            if block.size:
                self._left -= block.size
                return block
            self._current.close()
            self._current = None
            self.segments_played += 1
        return np.zeros(0, dtype=np.float32)

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None


def music_tracks(folder: Path, rate: int = RATE) -> list[Path]:
    """The OGG tracks under ``folder`` at ``rate`` Hz, in name order."""
    return [path for path in sorted(folder.rglob("*.ogg")) if soundfile.info(str(path)).samplerate == rate]


def process_sample() -> dict[str, float]:
    """Resident memory (MB), open file descriptors and OS threads of this process; CPU seconds used."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    with open("/proc/self/status") as status:
        threads = next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
    return {
        "rss_mb": resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20,
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": threads,
        "cpu_s": time.process_time(),
        "wall_s": time.perf_counter(),
    }


@dataclass
class Hour:
    """What happened during one hour of audio."""

    compute: DurationStats = field(default_factory=DurationStats)
    updates: int = 0
    first: dict[str, float] | None = None
    last: dict[str, float] | None = None


class SoakProbe:
    """An output (on the engine thread) that counts updates, non-finite values and per-hour compute, and
    samples the process every ``sample_every_s`` seconds of audio."""

    def __init__(self, sample_every_s: float, report: Callable[[int, Hour], None]) -> None:
        self.sample_every_s = sample_every_s
        self.hours: list[Hour] = []
        self.samples: list[tuple[float, dict[str, float]]] = []  # (audio time, sample)
        self.nonfinite_outputs = 0
        self._next_sample = 0.0
        self._report = report

    def begin(self, info: StreamInfo) -> None:
        """Nothing to set up."""

    def emit(self, update: Update) -> None:
        index = int(update.time // 3600)
        while len(self.hours) <= index:
            if self.hours:
                self._report(len(self.hours) - 1, self.hours[-1])
            self.hours.append(Hour())
        hour = self.hours[index]
        hour.compute.add(update.compute_s)
        hour.updates += 1
        if not all(
            math.isfinite(v) for v in (update.valence, update.arousal, update.p_high_valence, update.p_high_arousal)
        ):
            self.nonfinite_outputs += 1
        if update.time >= self._next_sample:
            sample = process_sample()
            self.samples.append((update.time, sample))
            hour.first = hour.first or sample
            hour.last = sample
            self._next_sample += self.sample_every_s

    def close(self) -> None:
        """The last hour is reported by the caller."""


def _row(index: int, hour: Hour) -> str:
    first, last = hour.first or {}, hour.last or {}
    cpu = (last.get("cpu_s", 0.0) - first.get("cpu_s", 0.0)) / max(hour.updates, 1)
    wall = last.get("wall_s", 0.0) - first.get("wall_s", 0.0)
    return (
        f"{index:>4}{hour.updates:>9}{last.get('rss_mb', 0.0):>9.1f}{last.get('fds', 0):>6}{last.get('threads', 0):>8}"
        f"{1000 * hour.compute.percentile(50):>9.3f}{1000 * hour.compute.percentile(99):>9.3f}"
        f"{1000 * cpu:>9.3f}{wall:>9.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=10.0, help="hours of audio to stream (default 10)")
    parser.add_argument("--model", help="model bundle (default: the trained default, else random weights)")
    parser.add_argument("--music", type=Path, default=MUSIC_DIR, help=f"folder of OGG music (default {MUSIC_DIR})")
    parser.add_argument("--synthetic-seconds", type=float, default=120.0, help="length of each synthetic segment")
    parser.add_argument("--sample-every", type=float, default=60.0, help="seconds of audio between process samples")
    parser.add_argument("--warm-up", type=float, default=10.0, help="minutes of audio before the reference sample")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    settings = StreamSettings()
    torch.set_num_threads(settings.engine.torch_threads)
    if args.model is not None:
        bundle_file, kind = Path(args.model), "given bundle"
    elif default_bundle_path().is_file():
        bundle_file, kind = default_bundle_path(), "trained default bundle"
    else:
        workdir = Path(tempfile.mkdtemp(prefix="damer-soak-"))
        bundle_file, kind = (
            random_bundle(workdir / "random.safetensors", seed=0),
            "default config, RANDOM weights (no trained default bundle yet)",
        )
    bundle = load_model(str(bundle_file), "cpu")
    tracks = music_tracks(args.music) if args.music.is_dir() else []
    openers: list[Callable[[], object]] = []
    for i, track in enumerate(tracks or [None]):
        if track is not None:
            openers.append(lambda track=track: SoundFileReader(track))
        openers.append(lambda seed=i: SyntheticSegment(args.synthetic_seconds, seed))
    playlist = Playlist(openers, RATE, args.hours * 3600)
    print(describe_bundle(bundle) + f" [{kind}]")
    print(
        f"playlist: {len(tracks)} music tracks from {args.music} and {len(openers) - len(tracks)} synthetic segments "
        f"of {args.synthetic_seconds:.0f} s, {RATE} Hz, looped to {args.hours:g} h of audio"
    )
    print(
        f"{'hour':>4}{'updates':>9}{'RSS MB':>9}{'fds':>6}{'threads':>8}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'CPU ms':>9}{'wall s':>9}",
        flush=True,
    )
    probe = SoakProbe(args.sample_every, lambda index, hour: print(_row(index, hour), flush=True))
    source = ThreadedSource(playlist, "fast", settings.engine.ring_seconds, FAST_BLOCK, "soak playlist, fast pace")
    engine = build_engine(bundle, source, [probe], 0.0, settings.engine.max_lag_s)
    summary = engine.run(threading.Event())
    if probe.hours:
        print(_row(len(probe.hours) - 1, probe.hours[-1]), flush=True)

    # Samples taken while running: a file may be open or not at any one moment, so descriptors and threads
    # are compared as the most seen in the first hour after the warm-up and in the last hour.
    start_s = min(60 * args.warm_up, probe.samples[-1][0])
    first_window = [sample for t, sample in probe.samples if start_s <= t < start_s + 3600]
    last_window = [sample for t, sample in probe.samples if t >= probe.samples[-1][0] - 3600]
    warm, end = first_window[0], probe.samples[-1][1]
    full_hours = [hour for hour in probe.hours if hour.updates]
    numbers = {
        "audio_hours": summary.audio_s / 3600,
        "rss_start_mb": warm["rss_mb"],
        "rss_end_mb": end["rss_mb"],
        "rss_growth_percent": 100 * (end["rss_mb"] - warm["rss_mb"]) / warm["rss_mb"],
        "fd_growth": max(s["fds"] for s in last_window) - max(s["fds"] for s in first_window),
        "thread_growth": max(s["threads"] for s in last_window) - max(s["threads"] for s in first_window),
        "compute_p99_ms_first_hour": 1000 * full_hours[0].compute.percentile(99),
        "compute_p99_ms_last_hour": 1000 * full_hours[-1].compute.percentile(99),
        "compute_p50_ms_first_hour": 1000 * full_hours[0].compute.percentile(50),
        "compute_p50_ms_last_hour": 1000 * full_hours[-1].compute.percentile(50),
        "overruns": summary.overrun_s,
        "skips": summary.skips,
        "nonfinite_outputs": probe.nonfinite_outputs,
        "nonfinite_samples": summary.nonfinite_samples,
        "updates": summary.updates,
        "segments_played": playlist.segments_played,
        "wall_s": summary.wall_s,
        "x_realtime": summary.audio_s / summary.wall_s,
        "model": f"{bundle_file} ({kind})",
        "machine": machine_line(),
    }
    p99_ratio = numbers["compute_p99_ms_last_hour"] / numbers["compute_p99_ms_first_hour"]
    targets = {
        "rss_growth_percent <= 5": numbers["rss_growth_percent"] <= 5.0,
        "fd_growth <= 0": numbers["fd_growth"] <= 0,
        "thread_growth <= 0": numbers["thread_growth"] <= 0,
        "p99 last hour within 10 % of first": abs(p99_ratio - 1.0) <= 0.10,
        "nonfinite_outputs == 0": numbers["nonfinite_outputs"] == 0,
    }
    numbers["targets_met"] = targets
    print(
        f"audio {numbers['audio_hours']:.2f} h in {summary.wall_s / 60:.1f} min "
        f"({numbers['x_realtime']:.1f}x real time), "
        f"{summary.updates} updates, {playlist.segments_played} segments played"
    )
    print(
        f"RSS {numbers['rss_start_mb']:.1f} MB after {args.warm_up:g} min -> {numbers['rss_end_mb']:.1f} MB "
        f"({numbers['rss_growth_percent']:+.2f} %); most fds / threads: "
        f"first hour {max(s['fds'] for s in first_window)} / {max(s['threads'] for s in first_window)}, "
        f"last hour {max(s['fds'] for s in last_window)} / {max(s['threads'] for s in last_window)}"
    )
    print(
        f"compute p99 first hour {numbers['compute_p99_ms_first_hour']:.3f} ms, "
        f"last hour {numbers['compute_p99_ms_last_hour']:.3f} ms "
        f"(ratio {p99_ratio:.3f}); overruns {summary.overrun_s:.3f} s, skips {summary.skips}; "
        f"non-finite outputs {probe.nonfinite_outputs} (non-finite input samples {summary.nonfinite_samples})"
    )
    for target, met in targets.items():
        print(f"{'PASS' if met else 'FAIL'}  {target}")
    print(f"machine: {numbers['machine']}")
    write_json(args.json, numbers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

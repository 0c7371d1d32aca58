"""Engine: a file at fast pace gives exactly the offline model output (values and times); smoothing, NaN
handling, skipping to the newest audio, overruns, --duration and stop requests."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
import torch

from damer_core.bundle import Bundle
from damer_core.features.frontend import FrontEnd, frontend_offline
from streamer.builder import build_engine
from streamer.engine import Engine
from streamer.recorder import Recorder
from streamer.ring import RingBuffer
from streamer.sources.base import ThreadedSource
from streamer.sources.file import SoundFileReader, file_source
from tests.streamer.conftest import music_signal, offline_reference


def run_file(bundle: Bundle, path, block_frames: int = 4096, ring_seconds: float = 1.0, **engine_args):
    source = file_source(SoundFileReader(path), "fast", ring_seconds, block_frames)
    recorder = Recorder()
    engine = build_engine(bundle, source, [recorder], engine_args.pop("smoothing_s", 0.0), 0.25, **engine_args)
    summary = engine.run()
    return recorder.table(), summary


def assert_matches(table: dict[str, np.ndarray], reference: dict[str, np.ndarray], atol: float = 2e-5) -> None:
    assert table["time"].shape == reference["time"].shape
    np.testing.assert_allclose(table["time"], reference["time"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(table["valence"], reference["va"][:, 0], rtol=0, atol=atol)
    np.testing.assert_allclose(table["arousal"], reference["va"][:, 1], rtol=0, atol=atol)
    np.testing.assert_allclose(table["p_high_valence"], reference["p_high"][:, 0], rtol=0, atol=atol)
    np.testing.assert_allclose(table["p_high_arousal"], reference["p_high"][:, 1], rtol=0, atol=atol)


@pytest.mark.parametrize(("block_frames", "ring_seconds"), [(4096, 1.0), (999, 0.5), (65536, 10.0)])
def test_file_at_fast_pace_equals_offline_model(
    bundle: Bundle, write_wav, block_frames: int, ring_seconds: float
) -> None:
    audio = music_signal(3.3, 22050)
    path = write_wav("music.wav", audio, 22050)
    table, summary = run_file(bundle, path, block_frames, ring_seconds)
    reference = offline_reference(bundle, audio, 22050)
    assert reference["time"].size > 100
    assert_matches(table, reference)
    assert summary.updates == reference["time"].size
    assert summary.stopped_by == "end of input"
    assert summary.skipped_s == 0 and summary.overrun_s == 0 and summary.nonfinite_samples == 0
    assert summary.audio_s == pytest.approx(audio.size / 22050)


def test_other_rate_and_stereo_are_resampled_and_downmixed(bundle: Bundle, write_wav) -> None:
    left, right = music_signal(2.5, 44100, seed=1), music_signal(2.5, 44100, seed=2)
    path = write_wav("stereo44k.wav", np.stack([left, right], axis=1), 44100)
    table, _ = run_file(bundle, path, 3000)
    mono = ((left + right) / 2).astype(np.float32)
    assert_matches(table, offline_reference(bundle, mono, 44100), atol=5e-5)


def test_non_finite_samples_are_replaced_by_zero_and_counted(bundle: Bundle, write_wav) -> None:
    audio = music_signal(2.0, 22050)
    broken = audio.copy()
    broken[[100, 5000, 5001, 30000]] = [np.nan, np.inf, -np.inf, np.nan]
    path = write_wav("nan.wav", broken, 22050)
    table, summary = run_file(bundle, path, 2048)
    assert summary.nonfinite_samples == 4
    repaired = audio.copy()
    repaired[[100, 5000, 5001, 30000]] = 0.0
    assert_matches(table, offline_reference(bundle, repaired, 22050))
    assert np.isfinite(table["valence"]).all()


def test_smoothing_is_a_one_pole_in_audio_time(bundle: Bundle, write_wav) -> None:
    audio = music_signal(2.0, 22050)
    path = write_wav("music.wav", audio, 22050)
    tau = 0.2
    table, _ = run_file(bundle, path, smoothing_s=tau)
    reference = offline_reference(bundle, audio, 22050)
    raw = np.concatenate([reference["va"], reference["p_high"]], axis=1).astype(np.float64)
    expected = raw.copy()
    for n in range(1, raw.shape[0]):
        alpha = 1 - math.exp(-(reference["time"][n] - reference["time"][n - 1]) / tau)
        expected[n] = expected[n - 1] + alpha * (raw[n] - expected[n - 1])
    got = np.stack([table["valence"], table["arousal"], table["p_high_valence"], table["p_high_arousal"]], axis=1)
    np.testing.assert_allclose(got, expected, atol=2e-5)
    assert np.abs(np.diff(got[:, 0])).max() < np.abs(np.diff(raw[:, 0])).max()


def test_duration_stops_after_that_much_audio(bundle: Bundle, write_wav) -> None:
    audio = music_signal(3.0, 22050)
    path = write_wav("music.wav", audio, 22050)
    table, summary = run_file(bundle, path, 1500, duration_s=1.0)
    assert summary.stopped_by == "duration"
    assert summary.audio_s == pytest.approx(1.0)
    assert_matches(table, offline_reference(bundle, audio[:22050], 22050))


class JitteryReader:
    """A file reader that returns blocks of random sizes and now and then pauses, as a reader thread does
    on a busy machine (seeded: each seed is another interleaving of the reader and the engine)."""

    def __init__(self, path, seed: int) -> None:
        self._reader = SoundFileReader(path)
        self.sample_rate, self.name = self._reader.sample_rate, self._reader.name
        self._rng = np.random.default_rng(seed)

    def read(self, max_frames: int) -> np.ndarray:
        if self._rng.random() < 0.3:
            time.sleep(0.002)
        return self._reader.read(int(self._rng.integers(1, max_frames + 1)))

    def close(self) -> None:
        self._reader.close()


@pytest.mark.parametrize("rate", [22050, 44100], ids=["model rate", "resampled"])
def test_fast_pace_gives_the_same_bits_whatever_the_reader_thread_does(bundle: Bundle, write_wav, rate: int) -> None:
    """``damer analyze`` and ``--pace fast`` read fixed quanta: how the reader thread was scheduled (block
    sizes, pauses) never changes a single bit of the results."""
    path = write_wav("music.wav", music_signal(4.0, rate, seed=5), rate)
    tables = []
    for seed in range(4):
        source = ThreadedSource(JitteryReader(path, seed), "fast", 1.0, 3000, "jittery file")
        recorder = Recorder()
        build_engine(bundle, source, [recorder], 0.0, 0.25).run()
        tables.append(recorder.table())
    for table in tables[1:]:
        for column in tables[0]:
            np.testing.assert_array_equal(table[column], tables[0][column])


class ScriptedSource:
    """A real-time source driven by a script run in its producer thread (for skip and overrun tests)."""

    realtime = True
    device_overflows = 0
    description = "scripted test source"

    def __init__(self, capacity: int, rate: int, script: Callable[[ScriptedSource], None]) -> None:
        self.ring = RingBuffer(capacity)
        self.sample_rate = rate
        self._script = script
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._script(self)
        finally:
            self._done.set()
            self.ring.wake()

    def feed(self, audio: np.ndarray, chunk: int = 300) -> None:
        """Write ``audio`` in chunks, never letting more than the first token's samples and a few chunks wait
        (an engine keeping up; the backlog stays below max_lag)."""
        for i in range(0, audio.size, chunk):
            self.ring.write(audio[i : i + chunk])
            while self.ring.available() > 2304 + 4 * chunk:
                time.sleep(0.0005)

    def wait_drained(self) -> None:
        deadline = time.monotonic() + 30
        while self.ring.available() >= 512 and time.monotonic() < deadline:  # less than a token never leaves
            time.sleep(0.002)
        time.sleep(0.05)  # let the engine finish processing what it read

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._thread.join(timeout=5)

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def check(self) -> None:
        pass


def _engine(bundle: Bundle, source, max_lag_s: float = 0.25) -> tuple[Engine, Recorder]:
    recorder = Recorder()
    engine = Engine(
        source, FrontEnd(bundle.spec), bundle.model.streaming(), bundle.spec, [recorder], max_lag_s=max_lag_s
    )
    return engine, recorder


def _stream_reference(bundle: Bundle, segments: list[tuple[np.ndarray, float]]) -> dict[str, np.ndarray]:
    """Outputs of one model stream fed the offline features of each segment in turn (front-end restarted per
    segment); ``segments`` are ``(audio, start time in seconds)``."""
    spec = bundle.spec
    model = bundle.model.streaming()
    times, va, p_high = [], [], []
    pending = 0
    for audio, start in segments:
        views = frontend_offline(audio, spec)
        output = model.push(*views)
        n = output.va.shape[1]
        for m in range(n):
            frame = (m + 1) * bundle.model.frames_per_token - 1 - pending
            times.append(start + (frame * spec.hop + spec.win_length) / spec.sample_rate)
        pending = (pending + views.mel.shape[0]) % bundle.model.frames_per_token
        va.append(output.va[0].numpy())
        p_high.append(torch.sigmoid(output.logits[0]).numpy())
    return {"time": np.array(times), "va": np.concatenate(va), "p_high": np.concatenate(p_high)}


def test_backlog_beyond_max_lag_skips_to_the_newest_audio(bundle: Bundle) -> None:
    rate, spec = 22050, bundle.spec
    first = music_signal(1.0, rate, seed=4)[: 86 * 256 + 256 * 3 + 100]  # an odd number of frames: a pending one
    burst = music_signal(2.0, rate, seed=5)  # arrives at once: 2 s > max_lag 0.25 s

    def script(source: ScriptedSource) -> None:
        source.feed(first)
        source.wait_drained()
        source.ring.write(burst)

    source = ScriptedSource(4 * rate, rate, script)
    engine, recorder = _engine(bundle, source)
    summary = engine.run()
    # The engine read `first` up to its last complete token (they end at win + (2m + 1) * hop); the rest
    # waits in the ring and is skipped with the start of the burst, keeping the newest win + hop samples.
    span = bundle.model.frames_per_token * spec.hop
    consumed = spec.win_length + spec.hop + (first.size - spec.win_length - spec.hop) // span * span
    backlog = first.size - consumed + burst.size
    kept = spec.win_length + spec.hop
    dropped = backlog - kept
    assert summary.skips == 1
    assert summary.skipped_s == pytest.approx(dropped / rate)
    assert summary.audio_s == pytest.approx((first.size + burst.size) / rate)
    everything = np.concatenate([first, burst])
    reference = _stream_reference(
        bundle, [(first[:consumed], 0.0), (everything[consumed + dropped :], (consumed + dropped) / rate)]
    )
    assert_matches(recorder.table(), reference)


def test_overrun_is_counted_and_time_includes_the_lost_audio(bundle: Bundle) -> None:
    rate, spec = 22050, bundle.spec
    capacity = rate  # 1 s ring
    first = music_signal(0.5, rate, seed=6)[: spec.win_length + spec.hop + 15 * 2 * spec.hop]  # ends on a token
    flood = music_signal(1.5, rate, seed=8)  # 1.5 s at once into a 1 s ring: 0.5 s lost
    tail = music_signal(0.6, rate, seed=9)

    def script(source: ScriptedSource) -> None:
        source.feed(first)
        source.wait_drained()
        written.append(source.ring.write(flood))
        source.wait_drained()
        source.ring.write(tail)

    written: list[int] = []
    source = ScriptedSource(capacity, rate, script)
    # A max_lag beyond the ring: only the overrun path can trigger (the engine stalls in effect).
    engine, recorder = _engine(bundle, source, max_lag_s=2.0)
    summary = engine.run()
    assert written == [capacity]
    lost = flood.size - capacity
    assert summary.overrun_s == pytest.approx(lost / rate)
    assert summary.audio_s == pytest.approx((first.size + flood.size + tail.size) / rate)
    table = recorder.table()
    # Updates after the overrun come from the tail alone, timed after the flood (lost samples included).
    tail_start = (first.size + flood.size) / rate
    after = table["time"] > tail_start
    assert after.any()
    reference_tail = _stream_reference(bundle, [(first, 0.0), (tail, tail_start)])
    np.testing.assert_allclose(
        table["time"][after], reference_tail["time"][reference_tail["time"] > tail_start], atol=1e-9
    )


@pytest.mark.timeout(30)
def test_stop_request_ends_a_realtime_stream_promptly(bundle: Bundle, write_wav) -> None:
    path = write_wav("long.wav", music_signal(6.0, 22050), 22050)
    source = file_source(SoundFileReader(path), "realtime", 2.0, 256)
    engine = build_engine(bundle, source, [Recorder()], 0.0, 0.25)
    engine.warm_up()  # the first engine of a process compiles and loads caches: not part of the 0.8 s
    stop = threading.Event()
    threading.Timer(0.8, stop.set).start()
    start = time.perf_counter()
    summary = engine.run(stop)
    assert summary.stopped_by == "stop request"
    assert time.perf_counter() - start < 3.0
    assert 0.3 < summary.audio_s < 3.0
    assert summary.updates > 0
    assert not source._thread.is_alive()

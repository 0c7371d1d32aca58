"""Faults injected on the live path, through the PulseAudio virtual sound card (``streamer/virtual_card.py``;
skipped, saying why, where PulseAudio cannot start): the OSC receiver killed and restarted mid-stream, the
input device removed or stalled mid-stream, SIGTERM / SIGINT mid-stream, and a consumer too slow for real
time (an output that sleeps on the engine thread, where outputs run).

``damer stream`` runs as a user runs it, in a subprocess listening to the card's monitor (``--input pulse``)
while music is played into the card; the slow-consumer tests drive the engine in this process.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from damer_core.bundle import Bundle, load_bundle
from streamer.builder import build_engine
from streamer.sources.devices import find_input_device
from streamer.sources.live import STALL_TIMEOUT_S, LiveSource
from streamer.update import StreamInfo, Update
from streamer.virtual_card import SINK_RATE, PulseUnavailable, null_sink
from tests.robustness.conftest import damer_command, read_csv
from tests.streamer.conftest import music_signal
from tests.streamer.osc_receivers import OscDump, PythonOscReceiver, free_udp_port

pytestmark = pytest.mark.timeout(240)
UPDATE_S = 2 * 256 / 22050  # one update of the small test model: 2 frames of 256 samples


class Player:
    """Plays music into the virtual card from a thread (``pacat``), for as long as the test needs."""

    def __init__(self, env: dict[str, str], seconds: float) -> None:
        audio = 0.4 * music_signal(seconds, SINK_RATE, seed=41)
        self.process = subprocess.Popen(
            [
                "pacat",
                "--device=vsink",
                "--format=float32le",
                f"--rate={SINK_RATE}",
                "--channels=1",
                "--latency-msec=200",
            ],
            stdin=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._thread = threading.Thread(target=self._feed, args=(audio.astype("<f4").tobytes(),), daemon=True)
        self._thread.start()

    def _feed(self, data: bytes) -> None:
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(data)
            self.process.stdin.close()
        except (BrokenPipeError, ValueError):
            pass  # the card went away (a test removes it) or the player was stopped

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def start_stream(env: dict[str, str], bundle_path: Path, *args: str) -> subprocess.Popen:
    """``damer stream --input pulse ARGS``, returned once it says which input it listens to."""
    process = subprocess.Popen(
        damer_command("stream", "--input", "pulse", "--model", str(bundle_path), "--no-meter", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("input: live input"):
            break
    else:
        raise AssertionError(f"damer stream did not start: {process.communicate(timeout=30)}")
    return process


def summary_value(stdout: str, name: str) -> str:
    match = re.search(rf"^{name}: (.*)$", stdout, re.MULTILINE)
    assert match is not None, stdout
    return match[1]


@pytest.fixture
def private_card(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A virtual card of this test alone (the test removes it): its environment and runtime folder."""
    try:
        with null_sink(tmp_path / "pulse") as env:
            yield env, tmp_path / "pulse"
    except PulseUnavailable as exc:
        print(f"live fault test skipped: {exc}")
        pytest.skip(str(exc))


def test_osc_receiver_killed_and_restarted(virtual_card, bundle_path: Path) -> None:
    port = free_udp_port()
    player = Player(virtual_card, 30.0)
    receiver = OscDump(port)
    process = start_stream(virtual_card, bundle_path, "--osc", f"127.0.0.1:{port}")
    try:
        before = receiver.take(60, timeout=20)  # ten bundles of six messages
        receiver.process.kill()  # the receiver dies without a word; the engine goes on sending
        receiver.process.wait(timeout=10)
        time.sleep(1.0)
        restarted = OscDump(port)
        after = restarted.take(60, timeout=20)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        player.stop()
        if process.poll() is None:
            process.kill()
    restarted.close()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    first_damer = next(t for t, line in restarted.arrivals if "/damer/" in line and t >= restarted.listening_at)
    gap = first_damer - restarted.listening_at
    print(
        f"receiver restarted: first bundle {1000 * gap:.1f} ms after it listened "
        f"(one update = {1000 * UPDATE_S:.1f} ms)"
    )
    assert gap < UPDATE_S + 0.05
    times_before = [m[3][0] for m in before if m[1] == "/damer/time"]
    times_after = [m[3][0] for m in after if m[1] == "/damer/time"]
    assert times_after[0] > times_before[-1] + 1.0  # the stream went on meanwhile
    assert np.allclose(np.diff(times_after), UPDATE_S, atol=1e-3)  # and sends every update again
    sent, attempts, refused = re.search(
        r"^OSC 127\.0\.0\.1:\d+: (\d+) of (\d+) bundles sent, (\d+) refused: nothing was listening", stdout, re.M
    ).groups()
    assert int(refused) > 0 and int(sent) + int(refused) == int(attempts) == int(summary_value(stdout, "updates"))
    assert summary_value(stdout, "stopped by") == "stop request"


@pytest.mark.parametrize("fault", ["server killed", "server stalled"])
def test_input_device_removed_mid_stream(fault: str, private_card, bundle_path: Path, tmp_path: Path) -> None:
    env, runtime = private_card
    player = Player(env, 30.0)
    process = start_stream(env, bundle_path, "--no-osc", "--log", str(tmp_path / "log.csv"))
    pid = int((runtime / "pulse" / "pid").read_text())
    try:
        deadline = time.monotonic() + 60
        while (
            not (tmp_path / "log.csv").exists() or len((tmp_path / "log.csv").read_text().splitlines()) < 40
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        if fault == "server killed":
            subprocess.run(["pulseaudio", "--kill"], env=env, timeout=30)
        else:
            subprocess.run(["kill", "-STOP", str(pid)], check=True)
        removed = time.monotonic()
        stdout, stderr = process.communicate(timeout=30)  # never hangs
        took = time.monotonic() - removed
    finally:
        if fault == "server stalled":
            subprocess.run(["kill", "-CONT", str(pid)], check=False)
        player.stop()
        if process.poll() is None:
            process.kill()
    print(f"{fault}: damer stream ended {took:.2f} s later with status {process.returncode}")
    assert process.returncode == 1
    assert "Traceback" not in stderr
    reason = (
        "stopped delivering audio"
        if fault == "server killed"
        else f"no audio from input device .* for {STALL_TIMEOUT_S:.0f} s"
    )
    assert re.search(rf"^stopped by: input lost: .*{reason}", stdout, re.MULTILINE), stdout
    assert re.search(rf"^damer stream: input lost: .*{reason}", stderr, re.MULTILINE), stderr
    assert took < STALL_TIMEOUT_S * 2 + 5
    updates = int(summary_value(stdout, "updates"))
    assert updates > 40 and read_csv(tmp_path / "log.csv").size == updates  # every update logged, none lost


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_stream_ends_with_a_summary_and_nothing_lost(
    signum: int, virtual_card, bundle_path: Path, tmp_path: Path
) -> None:
    receiver = PythonOscReceiver()
    player = Player(virtual_card, 30.0)
    log = tmp_path / "log.csv"
    process = start_stream(virtual_card, bundle_path, "--osc", receiver.target, "--log", str(log))
    try:
        receiver.take(40, timeout=20)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
        updates = int(summary_value(stdout, "updates"))
        rest = receiver.take(updates - 40, timeout=5)
    finally:
        player.stop()
        receiver.close()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert summary_value(stdout, "stopped by") == "stop request"
    assert f"OSC {receiver.target}: {updates} of {updates} bundles sent\n" in stdout
    table = read_csv(log)
    assert table.size == updates and log.read_text().endswith("\n")
    assert [b.messages[5][2][0] for b in rest] == pytest.approx(table["time"][40:].tolist(), abs=1e-5)


class SlowOutput:
    """An output that takes ``delay_s`` per update (and ``stall_s`` once, at update ``stall_at``), recording
    how far behind the sound each update was handed over: wall time minus the capture time of its last
    sample (the stream's origin plus the update's audio time)."""

    def __init__(self, delay_s: float, stall_at: int = -1, stall_s: float = 0.0) -> None:
        self.delay_s, self.stall_at, self.stall_s = delay_s, stall_at, stall_s
        self.origin = 0.0
        self.lags: list[tuple[float, float]] = []  # (audio time, lag in seconds)

    def begin(self, info: StreamInfo) -> None:
        assert info.origin_unix is not None
        self.origin = info.origin_unix

    def emit(self, update: Update) -> None:
        self.lags.append((update.time, time.time() - (self.origin + update.time)))
        time.sleep(self.stall_s if update.index == self.stall_at else self.delay_s)

    def close(self) -> None:
        pass


def run_live(env: dict[str, str], bundle: Bundle, output: SlowOutput, seconds: float, ring_seconds: float = 4.0):
    source = LiveSource(
        find_input_device("pulse"), 22050, latency=0.02, channels=1, blocksize=0, ring_seconds=ring_seconds
    )
    engine = build_engine(bundle, source, [output], smoothing_s=0.0, max_lag_s=0.25)
    stop = threading.Event()
    result = {}
    runner = threading.Thread(target=lambda: result.setdefault("summary", engine.run(stop)))
    runner.start()
    player = Player(env, seconds + 2)
    time.sleep(seconds)
    stop.set()
    runner.join(timeout=30)
    player.stop()
    return result["summary"], source


def test_slow_consumer_skips_to_the_newest_audio_and_keeps_latency_bounded(virtual_card, bundle_path: Path) -> None:
    bundle = load_bundle(bundle_path, "cpu")
    output = SlowOutput(delay_s=2.0 * UPDATE_S)  # half the speed real time needs
    summary, _ = run_live(virtual_card, bundle, output, seconds=6.0)
    assert summary.skips >= 3 and summary.skipped_s > 1.0
    assert summary.overrun_s == 0.0
    lags = np.array([lag for audio_time, lag in output.lags if audio_time > 1.0])
    print(f"slow consumer: {summary.skips} skips, {summary.skipped_s:.2f} s skipped, lag max {lags.max():.3f} s")
    # Without skipping the lag would grow by 1 s per second of music; it stays within max_lag plus the time
    # the slow output needs for one read of the ring (at most max_lag of updates, at twice real time).
    assert lags.max() < 0.25 + 2 * 0.25 + 0.25
    first, last = lags[: lags.size // 2], lags[lags.size // 2 :]
    assert last.mean() < first.mean() + 0.1


def test_stall_longer_than_the_ring_counts_an_overrun_and_recovers(virtual_card, bundle_path: Path) -> None:
    bundle = load_bundle(bundle_path, "cpu")
    output = SlowOutput(delay_s=0.0, stall_at=40, stall_s=2.5)  # the engine stops for 2.5 s; the ring holds 1 s
    summary, source = run_live(virtual_card, bundle, output, seconds=6.0, ring_seconds=1.0)
    assert summary.overrun_s > 1.0
    arrived = (source.ring.total_written + source.ring.overrun_samples) / source.sample_rate
    left = source.ring.available() / source.sample_rate  # not read when the stop came
    assert summary.audio_s == pytest.approx(arrived - left, abs=1e-6)  # the lost audio counts as time
    lags = [lag for audio_time, lag in output.lags[45:]]
    assert lags and max(lags[-20:]) < 0.25  # caught up: the last updates are close behind the sound

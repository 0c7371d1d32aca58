"""The live path through a real sounddevice stream: PulseAudio null sink -> ALSA 'pulse' -> PortAudio
callback -> ring -> engine; and the errors when there is no sound card or no PortAudio."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from damer_core.bundle import Bundle
from damer_core.errors import DeviceError
from streamer.builder import build_engine
from streamer.recorder import Recorder
from streamer.ring import RingBuffer
from streamer.sources.devices import find_input_device
from streamer.sources.live import LiveSource
from streamer.virtual_card import play
from tests.streamer.conftest import music_signal, offline_reference


class RecordingRing(RingBuffer):
    """A ring that also keeps a copy of every sample written (test only: it allocates)."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.recorded: list[np.ndarray] = []

    def write(self, samples: np.ndarray) -> int:
        n = super().write(samples)
        self.recorded.append(np.array(samples[:n], dtype=np.float32))
        return n


def wait_until(condition, timeout: float = 60.0) -> None:
    """Poll ``condition`` every 10 ms until it holds (the test fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the sound card"
        time.sleep(0.01)


@pytest.mark.timeout(120)
def test_live_input_through_a_virtual_sound_card(virtual_card, bundle: Bundle) -> None:
    device = find_input_device("pulse")
    source = LiveSource(
        device, 22050, latency=0.02, channels=1, blocksize=0, ring_seconds=4.0, ring_factory=RecordingRing
    )
    assert source.sample_rate == 22050
    assert source.latency == pytest.approx(0.02, abs=0.015)
    recorder = Recorder()
    engine = build_engine(bundle, source, [recorder], smoothing_s=0.0, max_lag_s=1.0)
    stop = threading.Event()
    result = {}
    runner = threading.Thread(target=lambda: result.setdefault("summary", engine.run(stop)))
    runner.start()
    music = 0.5 * music_signal(2.0, 22050, seed=11)
    # The stream is open and delivering (the sink's monitor sends silence) before the music starts; the
    # run stops once the card has delivered the whole music and a margin after it, however busy the machine.
    wait_until(lambda: source.ring.total_written > 0)
    before = source.ring.total_written
    play(virtual_card, music)
    wait_until(lambda: source.ring.total_written >= before + music.size + 22050 // 2)
    stop.set()
    runner.join(timeout=30)
    summary = result["summary"]
    assert summary.stopped_by == "stop request"
    assert summary.skips == 0 and summary.overrun_s == 0
    recorded = np.concatenate(source.ring.recorded)
    # The music came through the virtual card unchanged (16-bit sink: error 3e-5). The monitor may start
    # a few milliseconds into the playback, so the recording may lack the first samples (negative lag).
    lag = int(np.argmax(scipy.signal.correlate(recorded, music, mode="full", method="fft"))) - (music.size - 1)
    heard = recorded[max(lag, 0) : max(lag, 0) + music.size - max(-lag, 0)]
    played = music[max(-lag, 0) :][: heard.size]
    assert heard.size > 0.95 * music.size, f"only {heard.size} of {music.size} samples recorded (lag {lag})"
    # PulseAudio ramps a new playback stream in over its first few milliseconds (85 samples measured here):
    # compare from 10 ms on.
    ramp = 22050 // 100
    error = np.abs(heard[ramp:] - played[ramp:]).max()
    assert error < 1e-3, f"played music not found in the recording (max error {error:.4f} at lag {lag})"
    # The engine's updates equal the offline model output over the samples the callback delivered.
    table = recorder.table()
    reference = offline_reference(bundle, recorded, 22050)
    n = table["time"].size
    assert n > 80
    np.testing.assert_allclose(table["time"], reference["time"][:n], atol=1e-9)
    np.testing.assert_allclose(table["valence"], reference["va"][:n, 0], atol=2e-5)
    np.testing.assert_allclose(table["arousal"], reference["va"][:n, 1], atol=2e-5)


def test_device_by_name_and_index(virtual_card) -> None:
    device = find_input_device("PULSE")
    assert device.name == "pulse"
    assert find_input_device(str(device.index)) == device
    with pytest.raises(DeviceError, match="no input device whose name contains 'nosuchcard'"):
        find_input_device("nosuchcard")
    with pytest.raises(DeviceError, match="no input device with index 999"):
        find_input_device("999")


def _damer(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "damer_core.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def no_sound_card_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose PulseAudio clients find no server (so ALSA's pulse/default devices cannot open);
    on a machine without sound hardware PortAudio then lists no device at all."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["PULSE_SERVER"] = f"unix:{tmp_path / 'no-server-here'}"
    count = subprocess.run(
        [sys.executable, "-c", "import sounddevice; print(len(sounddevice.query_devices()))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if count.returncode != 0 or count.stdout.strip() != "0":
        found = count.stdout.strip() or count.stderr.strip()
        print(f"no-sound-card tests skipped: this machine has sound devices ({found})")
        pytest.skip("this machine has sound devices")
    return env


def test_no_sound_card_says_which_flag_to_use(no_sound_card_env: dict[str, str], bundle_path: Path) -> None:
    result = _damer(["stream", "--input", "0", "--model", str(bundle_path), "--no-osc"], no_sound_card_env)
    assert result.returncode == 2
    assert "no audio input device found" in result.stderr
    assert "--input FILE" in result.stderr and "Traceback" not in result.stderr
    listing = _damer(["devices"], no_sound_card_env)
    assert listing.returncode == 0 and "no audio input devices found" in listing.stdout


def test_no_sound_card_plays_the_demo_clip(no_sound_card_env: dict[str, str], bundle_path: Path) -> None:
    result = _damer(["stream", "--model", str(bundle_path), "--no-osc", "--duration", "1"], no_sound_card_env)
    assert result.returncode == 0, result.stderr
    assert "playing the bundled demo clip in real time" in result.stdout
    assert "demo.ogg" in result.stdout
    assert "stopped by: duration" in result.stdout


def test_missing_portaudio_says_what_to_install(tmp_path: Path, bundle_path: Path) -> None:
    """sounddevice raises OSError at import when the PortAudio library is missing; a stand-in module that
    does exactly that shadows it."""
    (tmp_path / "sounddevice.py").write_text('raise OSError("PortAudio library not found")\n')
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = _damer(["stream", "--input", "1", "--model", str(bundle_path), "--no-osc"], env)
    assert result.returncode == 2
    assert "apt-get install libportaudio2" in result.stderr and "Traceback" not in result.stderr
    listing = _damer(["devices"], env)
    assert listing.returncode == 2 and "libportaudio2" in listing.stderr

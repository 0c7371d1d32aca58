"""Sound-to-OSC latency of ``damer stream`` on real music, through the real audio path.

Path (``--path pulse``, the default when PulseAudio can start): the music is played in real time into a
private PulseAudio null sink (:mod:`streamer.virtual_card`) and recorded from its monitor by a real
sounddevice/PortAudio input stream (ALSA ``pulse`` device, 22050 Hz, the default input latency), so the
audio callback, the ring buffer, the engine thread, the front-end, the model and the OSC send are exactly
those of a live show. ``--path file`` instead paces the decoded file in real time from a thread (no audio
callback: the producer thread plays its role).

Measured per update, against one monotonic clock shared by the processes:

* ``sound_to_osc``: from the arrival in the audio callback of the last sample the update depends on (the
  end of its token's last frame) to the reception of its OSC bundle by a separate receiver process (a bare
  UDP socket). It does not include the sound card's own input latency (PortAudio's, reported separately).
* ``hop_wait``: the framing part that comes on top: an update is computed once its token's frames are
  complete, so a sound waits up to one token span (``frames_per_token * hop / rate``) for the token that
  contains it. ``total`` adds it to ``sound_to_osc``; ``total_with_device`` also adds the sound card's
  input latency as PortAudio reports it (the time before the callback sees a sample).
* ``compute``: the engine's time for the block that completed the update (front-end + model).
* CPU use of the engine process (all its threads: callback, engine) over the run, per-stage totals.

The music is decoded, downmixed and resampled to 22050 Hz before it is played (the sink and the stream run
at the model's rate, as PortAudio provides when asked). Without a trained default bundle the model is the
default config with random weights (same cost, meaningless outputs); the output says which.

With several ``--model`` bundles each round runs them one after the other on the same music; the table shows
each one's median over the rounds and its ratio to the first (the machine's load then weighs on all alike).

    python -m bench.latency [--input FILE] [--seconds 60] [--path pulse|file] [--model BUNDLE ...]
                            [--rounds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch
import torchaudio

from bench.report import machine_line, write_json
from damer_core.bundle import default_bundle_path, random_bundle
from damer_core.spec import FeatureSpec
from streamer.builder import build_engine, load_model
from streamer.osc import OscEmitter
from streamer.ring import RingBuffer
from streamer.settings import StreamSettings
from streamer.sources.base import ThreadedSource
from streamer.sources.devices import find_input_device
from streamer.sources.live import LiveSource
from streamer.sources.stdin import RawFloat32Reader
from streamer.update import StreamInfo, Update
from streamer.virtual_card import PulseUnavailable, null_sink, play

RATE = FeatureSpec().sample_rate
MUSIC_DIRS = (Path("data/music"), Path("../shared/data/4q"))


class StampingRing(RingBuffer):
    """A ring that also records, for every write, the total samples written and the monotonic time, into
    preallocated arrays (a few hundred nanoseconds per callback)."""

    def __init__(self, capacity: int, max_writes: int = 2_000_000) -> None:
        super().__init__(capacity)
        self.stamp_samples = np.zeros(max_writes, dtype=np.int64)
        self.stamp_times = np.zeros(max_writes, dtype=np.float64)
        self.stamps = 0

    def write(self, samples: np.ndarray) -> int:
        n = super().write(samples)
        i = self.stamps
        if i < self.stamp_samples.shape[0]:
            self.stamp_samples[i] = self.total_written
            self.stamp_times[i] = time.perf_counter()
            self.stamps = i + 1
        return n


class UpdateLog:
    """Engine output recording each update's audio time and compute time."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.compute: list[float] = []

    def begin(self, info: StreamInfo) -> None:
        pass

    def emit(self, update: Update) -> None:
        self.times.append(update.time)
        self.compute.append(update.compute_s)

    def close(self) -> None:
        pass


def receiver_main(port_file: str, out_file: str) -> None:
    """Receiver process: record (monotonic arrival, /damer/time value) of every datagram until '/stop'."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    Path(port_file).write_text(str(sock.getsockname()[1]))
    arrivals, payloads = [], []
    while True:
        data = sock.recv(65536)
        now = time.perf_counter()
        if data.startswith(b"/stop"):
            break
        arrivals.append(now)
        payloads.append(data)
    # /damer/time is the last message of the bundle; its float is the last 4 bytes.
    times = [struct.unpack(">f", p[-4:])[0] for p in payloads]
    np.savez(out_file, arrival=np.array(arrivals), time=np.array(times, dtype=np.float64))


def stop_receiver(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"/stop", ("127.0.0.1", port))


def find_music(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    for folder in MUSIC_DIRS:
        files = sorted(folder.rglob("*.ogg")) + sorted(folder.rglob("*.mp3"))
        long_enough = [f for f in files if soundfile.info(str(f)).duration >= 60]
        if long_enough:
            return long_enough[0]
    raise SystemExit("no music found: pass --input FILE")


def load_music(path: Path, seconds: float, to_rate: int = RATE) -> np.ndarray:
    """Decode, downmix and resample to ``to_rate`` (default: the model's); loop to ``seconds`` if shorter."""
    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != to_rate:
        mono = torchaudio.functional.resample(torch.from_numpy(mono), rate, to_rate).numpy()
    need = int(seconds * to_rate)
    return np.tile(mono, -(-need // mono.size))[:need].astype(np.float32)


def model_path(explicit: str | None, workdir: Path) -> tuple[Path, str]:
    if explicit is not None:
        return Path(explicit), "given bundle"
    if default_bundle_path().is_file():
        return default_bundle_path(), "trained default bundle"
    return random_bundle(
        workdir / "random.safetensors", seed=0
    ), "default config, RANDOM weights (no trained default bundle yet)"


def percentile(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if x.size else float("nan")


def measure(
    bundle_file: Path, bundle_kind: str, music: np.ndarray, music_file: Path, path: str, latency: float | str
) -> dict[str, Any]:
    """One live run of ``bundle_file`` on ``music`` (22050 Hz mono) through ``path``: the figures of the
    module docstring, by name."""
    settings = StreamSettings()
    bundle = load_model(str(bundle_file), "cpu")
    workdir = Path(tempfile.mkdtemp(prefix="damer-bench-"))

    port_file, out_file = workdir / "port", workdir / "received.npz"
    receiver = subprocess.Popen([sys.executable, "-m", "bench.latency", "--receiver", str(port_file), str(out_file)])
    while not port_file.exists() or not port_file.read_text():
        time.sleep(0.01)
    target = f"127.0.0.1:{port_file.read_text()}"

    log = UpdateLog()
    emitters = [OscEmitter([target], settings.osc.prefix), log]
    path_used = path
    device_latency = float("nan")
    stop = threading.Event()
    result: dict = {}
    with ExitStack() as cleanup:
        cleanup.callback(receiver.wait, timeout=30)
        cleanup.callback(stop_receiver, int(port_file.read_text()))
        env: dict[str, str] = {}
        if path == "pulse":
            try:
                env = cleanup.enter_context(null_sink(workdir / "pulse"))
            except PulseUnavailable as exc:
                print(f"PulseAudio unavailable ({exc}); falling back to --path file")
                path_used = "file"
        if path_used == "pulse":
            # sounddevice is imported (and PortAudio lists its devices) only now, with the virtual card up.
            source = LiveSource(
                find_input_device("pulse"), RATE, latency, 1, 0, settings.engine.ring_seconds, StampingRing
            )
            device_latency = source.latency
        else:
            reader = RawFloat32Reader(io.BytesIO(music.astype("<f4").tobytes()), RATE, 1, name="music")
            source = ThreadedSource(
                reader, "realtime", settings.engine.ring_seconds, 256, "music at real-time pace", StampingRing
            )
        engine = build_engine(bundle, source, emitters, settings.engine.smoothing_s, settings.engine.max_lag_s)
        runner = threading.Thread(target=lambda: result.setdefault("summary", engine.run(stop)))
        cleanup.callback(stop.set)
        runner.start()
        if path_used == "pulse":
            time.sleep(1.0)  # the stream runs before the music starts
            play(env, music)
            time.sleep(0.3)
            stop.set()
        runner.join()
    summary = result["summary"]
    received = np.load(out_file)

    # Per update: audio time -> end sample -> arrival of the callback block that completed it.
    ring: StampingRing = source.ring  # type: ignore[assignment]
    stamp_samples, stamp_times = ring.stamp_samples[: ring.stamps], ring.stamp_times[: ring.stamps]
    update_times = np.array(log.times)
    end_samples = np.rint(update_times * RATE).astype(np.int64)
    block = np.searchsorted(stamp_samples, end_samples)  # first write whose total covers the end sample
    sound_arrival = stamp_times[np.minimum(block, stamp_times.size - 1)]
    # Match received bundles to updates by their audio time (float32 in the datagram).
    index = np.searchsorted(update_times, received["time"] - 1e-4)
    ok = (index < update_times.size) & (
        np.abs(update_times[np.minimum(index, update_times.size - 1)] - received["time"]) < 1e-3
    )
    latency_ms = 1000 * (received["arrival"][ok] - sound_arrival[index[ok]])
    per_token = bundle.model.frames_per_token * bundle.spec.hop
    token_span_ms = 1000 * per_token / RATE
    compute_ms = 1000 * np.array(log.compute)
    updates = int(summary.updates)
    return {
        "sound_to_osc_p50_ms": percentile(latency_ms, 50),
        "sound_to_osc_p99_ms": percentile(latency_ms, 99),
        "sound_to_osc_max_ms": float(latency_ms.max()) if latency_ms.size else float("nan"),
        "hop_wait_ms": token_span_ms,
        "total_p99_ms": percentile(latency_ms, 99) + token_span_ms,
        "total_with_device_p99_ms": percentile(latency_ms, 99) + token_span_ms + 1000 * device_latency,
        "compute_p50_ms": percentile(compute_ms, 50),
        "compute_p99_ms": percentile(compute_ms, 99),
        "frontend_ms_per_update": 1000 * summary.frontend_s / max(updates, 1),
        "model_ms_per_update": 1000 * summary.model_s / max(updates, 1),
        "send_ms_per_update": 1000 * summary.emit_s / max(updates, 1),
        "cpu_percent_one_core": 100 * summary.cpu_s / summary.wall_s,
        "updates": updates,
        "received": int(ok.sum()),
        "overruns": float(summary.overrun_s),
        "skipped_s": float(summary.skipped_s),
        "device_overflows": int(summary.device_overflows),
        "device_input_latency_ms": 1000 * device_latency,
        "audio_s": float(summary.audio_s),
        "path": "PulseAudio null sink -> PortAudio callback"
        if path_used == "pulse"
        else "file at real-time pace (thread, no callback)",
        "music": str(music_file),
        "model": f"{bundle_file} ({bundle_kind})",
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-figure median over ``runs`` of one model (text fields from the first run)."""
    return {
        key: value if isinstance(value, str) else type(value)(np.median([run[key] for run in runs]))
        for key, value in runs[0].items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--input",
        type=Path,
        help="music file (default: the first long OGG under data/music, "
        "made by python -m train.fetch_music --out data/music)",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of music to stream (default 60)")
    parser.add_argument("--path", choices=("pulse", "file"), default="pulse", help="audio path (default pulse)")
    parser.add_argument(
        "--model",
        nargs="+",
        help="model bundle(s), measured in turn in each round and compared with the first "
        "(default: trained default, else random weights)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of each model, in alternation (default 1)")
    parser.add_argument(
        "--latency", type=float, default=None, help="sound-card input latency in s (default: configs/default.yaml)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--receiver", nargs=2, metavar=("PORT_FILE", "OUT_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.receiver:
        receiver_main(*args.receiver)
        return 0

    settings = StreamSettings()
    torch.set_num_threads(settings.engine.torch_threads)
    latency = settings.input.latency if args.latency is None else args.latency
    music_file = find_music(args.input)
    music = load_music(music_file, args.seconds)
    models = [model_path(model, Path(tempfile.mkdtemp(prefix="damer-bench-"))) for model in args.model or [None]]
    runs: list[list[dict[str, Any]]] = [[] for _ in models]
    for _ in range(args.rounds):
        for i, (bundle_file, bundle_kind) in enumerate(models):
            runs[i].append(measure(bundle_file, bundle_kind, music, music_file, args.path, latency))
    results = [median_run(model_runs) for model_runs in runs]
    targets = {
        "sound_to_osc_p99_ms": "total <= 50 incl. hop_wait",
        "compute_p99_ms": "<= 5",
        "cpu_percent_one_core": "<= 15",
        "updates": ">= 2000",
    }
    print(f"music: {music_file}\npath: {results[0]['path']}\nmachine: {machine_line()}")
    for i, result in enumerate(results):
        print(f"model {chr(65 + i)}: {result['model']}")
    header = "".join(f"{chr(65 + i):>12}" for i in range(len(results)))
    ratios = "".join(f"{f'{chr(66 + i)}/A':>10}" for i in range(len(results) - 1))
    print(f"{'metric':<28}{header}{ratios}  target")
    for key, value in results[0].items():
        if isinstance(value, str):
            continue
        cells = "".join(f"{r[key]:12.2f}" if isinstance(value, float) else f"{r[key]:12d}" for r in results)
        cells += "".join(f"{r[key] / value:10.2f}" if value else f"{'':>10}" for r in results[1:])
        print(f"{key:<28}{cells}  {targets.get(key, '')}")
    write_json(args.json, {"machine": machine_line(), "rounds": args.rounds, "models": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

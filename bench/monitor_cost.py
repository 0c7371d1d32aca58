"""What the live monitor costs the engine: compute per update, CPU and the moment OSC is sent, with no monitor,
with the monitor serving no client, and with five WebSocket clients connected, side by side in one run.

The engine runs a model bundle (default: the shipped model) on music paced in real time by a thread (as
``bench.latency --path file``) and sends OSC to a UDP socket of a helper process, which also holds the
WebSocket clients (each reading every message, as the page does) so that their work is not counted as the
engine's. Configurations take turns of ``--seconds`` each, in a rotated order, for ``--rounds`` rounds, so
that they share the machine's noise.

Per configuration, over all its turns: compute per update (the engine's own measure: resampling, front-end,
model) p50 and p99; CPU of the engine's process (every thread: engine, audio pacing, monitor server) in % of
one core; ``osc_delay``: from the write into the ring of an update's last sample (its capture) to the return
of the OSC send, p50 and p99; messages each client received. Ratios against "monitor, 0 clients". Table +
``--json``.

    python -m bench.monitor_cost [--model BUNDLE] [--input FILE] [--seconds 20] [--rounds 3] [--clients 5]
        [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from websockets.asyncio.client import connect
from websockets.typing import Origin

from bench.latency import StampingRing, load_music, model_path
from bench.report import machine_line, write_json
from damer_core.bundle import Bundle
from streamer.builder import DEMO_CLIP, build_engine, load_model
from streamer.monitor.emitter import MonitorEmitter, open_monitor
from streamer.osc import OscEmitter
from streamer.settings import MonitorSettings, StreamSettings
from streamer.sources.base import ThreadedSource
from streamer.sources.stdin import RawFloat32Reader
from streamer.update import Emitter, StreamInfo, Update

CONFIGURATIONS = ("no monitor", "monitor, 0 clients", "monitor, N clients")


class SendProbe:
    """Placed right after the OSC output: records, per update, its audio time, its compute time and the moment
    its OSC send returned (``time.perf_counter``, the clock of :class:`~bench.latency.StampingRing`)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.compute: list[float] = []
        self.sent: list[float] = []

    def begin(self, info: StreamInfo) -> None:
        pass

    def emit(self, update: Update) -> None:
        self.sent.append(time.perf_counter())
        self.times.append(update.time)
        self.compute.append(update.compute_s)

    def close(self) -> None:
        pass


@dataclass
class Totals:
    """One configuration over its turns."""

    compute_ms: list[float] = field(default_factory=list)
    osc_delay_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    received: list[int] = field(default_factory=list)
    skips: int = 0
    turns: list[tuple[float, float]] = field(default_factory=list)  # (compute p99 ms, CPU %) of each turn


def helper_main(url: str, clients: int) -> None:
    """Helper process: a UDP sink for OSC, and ``clients`` WebSocket clients of ``url`` reading every message.
    Prints ``ready PORT`` once all are connected, and the messages each received once standard input ends."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        sink.setblocking(False)
        loop.add_reader(sink, lambda: sink.recv(65536))
        counts = [0] * clients
        origin = Origin(url.replace("ws://", "http://").rsplit("/", 1)[0])
        connections = [await connect(url, origin=origin, max_size=None) for _ in range(clients)]

        async def read(i: int) -> None:
            async for _ in connections[i]:
                counts[i] += 1

        readers = [asyncio.create_task(read(i)) for i in range(clients)]
        print(f"ready {sink.getsockname()[1]}", flush=True)
        await loop.run_in_executor(None, sys.stdin.read)
        for task in readers:
            task.cancel()
        print(" ".join(map(str, counts)), flush=True)

    asyncio.run(main())


def run_turn(bundle: Bundle, music: np.ndarray, configuration: str, clients: int, totals: Totals) -> None:
    """One turn of ``configuration``: the engine over ``music`` at real-time pace."""
    settings = StreamSettings()
    monitor: MonitorEmitter | None = None
    if configuration != "no monitor":
        monitor = open_monitor(MonitorSettings(True, "127.0.0.1:0"), "bench")
    n = clients if configuration == "monitor, N clients" else 0
    url = monitor.url.replace("http:", "ws:") + "ws" if monitor is not None else "-"
    helper = subprocess.Popen(
        [sys.executable, "-m", "bench.monitor_cost", "--helper", url, str(n)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert helper.stdout is not None and helper.stdin is not None
        port = int(helper.stdout.readline().split()[1])
        probe = SendProbe()
        emitters: list[Emitter] = [OscEmitter([f"127.0.0.1:{port}"], settings.osc.prefix), probe]
        if monitor is not None:
            emitters.append(monitor)
        reader = RawFloat32Reader(io.BytesIO(music.astype("<f4").tobytes()), bundle.spec.sample_rate, 1, "music")
        source = ThreadedSource(reader, "realtime", settings.engine.ring_seconds, 256, "music", StampingRing)
        engine = build_engine(bundle, source, emitters, settings.engine.smoothing_s, settings.engine.max_lag_s)
        if monitor is not None:
            monitor.watch(engine.summary)
        summary = engine.run()
        helper.stdin.close()
        counts = [int(c) for c in helper.stdout.readline().split()]
    finally:
        if monitor is not None:
            monitor.close()
        helper.wait(30)
    ring: StampingRing = source.ring  # type: ignore[assignment]
    stamp_samples, stamp_times = ring.stamp_samples[: ring.stamps], ring.stamp_times[: ring.stamps]
    end_samples = np.rint(np.array(probe.times) * bundle.spec.sample_rate).astype(np.int64)
    block = np.minimum(np.searchsorted(stamp_samples, end_samples), stamp_times.size - 1)
    totals.osc_delay_ms.extend((1000 * (np.array(probe.sent) - stamp_times[block])).tolist())
    totals.compute_ms.extend(1000 * c for c in probe.compute)
    totals.turns.append(
        (float(np.percentile(1000 * np.array(probe.compute), 99)), 100 * summary.cpu_s / summary.wall_s)
    )
    totals.cpu_s += summary.cpu_s
    totals.wall_s += summary.wall_s
    totals.received.extend(counts)
    totals.skips += summary.skips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model bundle (default: the shipped model)")
    parser.add_argument("--input", type=Path, default=DEMO_CLIP, help="music file (default: the demo clip)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of music per turn (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each configuration (default 3)")
    parser.add_argument("--clients", type=int, default=5, help="WebSocket clients of the last configuration")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--helper", nargs=2, metavar=("URL", "CLIENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.helper:
        helper_main(args.helper[0], int(args.helper[1]))
        return 0

    settings = StreamSettings()
    torch.set_num_threads(settings.engine.torch_threads)
    with tempfile.TemporaryDirectory() as workdir:
        path, kind = model_path(args.model, Path(workdir))
        bundle = load_model(str(path), "cpu")
    music = load_music(args.input, args.seconds, bundle.spec.sample_rate)
    names = [c.replace("N", str(args.clients)) for c in CONFIGURATIONS]
    print(f"model: {path} ({kind})\nmusic: {args.input}, {args.seconds:g} s per turn, {args.rounds} rounds")
    print(f"machine: {machine_line()}")
    totals = {c: Totals() for c in CONFIGURATIONS}
    for r in range(args.rounds):
        order = CONFIGURATIONS[r % 3 :] + CONFIGURATIONS[: r % 3]
        for configuration in order:
            run_turn(bundle, music, configuration, args.clients, totals[configuration])
        print(f"round {r + 1}/{args.rounds} done", flush=True)

    results: dict[str, object] = {
        "model": f"{path} ({kind})",
        "music": str(args.input),
        "seconds_per_turn": args.seconds,
        "rounds": args.rounds,
        "clients": args.clients,
    }
    header = f"{'configuration':<22}{'compute p50':>12}{'p99 ms':>9}{'CPU %':>8}{'OSC p50':>9}{'p99 ms':>9}"
    print(f"\n{header}{'skips':>7}  messages per client")
    for configuration, name in zip(CONFIGURATIONS, names, strict=True):
        t = totals[configuration]
        compute, delay = np.array(t.compute_ms), np.array(t.osc_delay_ms)
        row = {
            "updates": int(compute.size),
            "compute_p50_ms": float(np.percentile(compute, 50)),
            "compute_p99_ms": float(np.percentile(compute, 99)),
            "cpu_percent_one_core": 100 * t.cpu_s / t.wall_s,
            "osc_delay_p50_ms": float(np.percentile(delay, 50)),
            "osc_delay_p99_ms": float(np.percentile(delay, 99)),
            "skips": t.skips,
            "messages_per_client": t.received,
            "turns_compute_p99_ms": [p99 for p99, _ in t.turns],
            "turns_cpu_percent_one_core": [cpu for _, cpu in t.turns],
        }
        results[name] = row
        print(
            f"{name:<22}{row['compute_p50_ms']:>12.2f}{row['compute_p99_ms']:>9.2f}{row['cpu_percent_one_core']:>8.1f}"
            f"{row['osc_delay_p50_ms']:>9.2f}{row['osc_delay_p99_ms']:>9.2f}{t.skips:>7}  "
            f"{' '.join(map(str, t.received)) or '-'}"
        )
    print("per turn, compute p99 ms / CPU %:")
    for configuration, name in zip(CONFIGURATIONS, names, strict=True):
        print(f"  {name:<20}" + "  ".join(f"{p99:6.2f} / {cpu:4.1f}" for p99, cpu in totals[configuration].turns))
    base, served = results[names[1]], results[names[2]]
    for key in ("compute_p99_ms", "cpu_percent_one_core", "osc_delay_p99_ms"):
        ratio = served[key] / base[key]  # type: ignore[index]
        results[f"{key}_ratio_{args.clients}_over_0_clients"] = ratio
        print(f"{key}: {names[2]} / {names[1]} = {ratio:.2f}x")
    results["machine"] = machine_line()
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

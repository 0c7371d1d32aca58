"""What pacing does to the cost of a live update: the same updates back to back, and paced as live.

Live, the engine computes one update every ``frames_per_token * hop`` samples (23.2 ms at the default
spec) and the core idles in between; a benchmark loop that runs updates back to back keeps caches, branch
predictors and the core's power state warm and so under-states what a live update costs. This bench runs
the front-end and the model step of a bundle on real music one update per push, as the engine does, in
turns of ``--turn`` updates: back to back, then paced (after each update, sleep until the next update's
audio would have arrived in real time), and so on, so that both modes share the machine's noise.

Reported per mode: the update's wall time (p50, p99), its CPU time (this thread, mean) and the share of one
core that CPU time is at the live update rate. Table + ``--json``.

    python -m bench.pacing [--model BUNDLE] [--input FILE] [--seconds 60] [--turn 200] [--json PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.latency import find_music, load_music, model_path
from bench.report import machine_line, write_json
from damer_core.bundle import load_bundle
from damer_core.features.frontend import FrontEnd

MODES = ("back to back", "paced")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model bundle (default: trained default, else random weights)")
    parser.add_argument("--input", type=Path, help="music file (default: as bench.latency)")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of music per mode (default 60)")
    parser.add_argument("--turn", type=int, default=200, help="updates per turn of each mode (default 200)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed updates first (default 50)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as workdir:
        path, kind = model_path(args.model, Path(workdir))
        bundle = load_bundle(path, device="cpu")
    spec = bundle.spec
    update_samples = bundle.model.frames_per_token * spec.hop
    interval_s = update_samples / spec.sample_rate
    music_file = find_music(args.input)
    audio = load_music(music_file, args.seconds * len(MODES), spec.sample_rate)
    blocks = [audio[i : i + update_samples] for i in range(0, audio.size - update_samples + 1, update_samples)]
    print(f"model: {path} ({kind})\nmusic: {music_file}\nmachine: {machine_line()}")

    front_end, stream = FrontEnd(spec), bundle.streaming()
    wall = {mode: [] for mode in MODES}
    cpu = {mode: [] for mode in MODES}
    with torch.inference_mode():
        for block in blocks[: args.warmup]:
            stream.push(*front_end.push(block))
        for n, block in enumerate(blocks[args.warmup :]):
            mode = MODES[(n // args.turn) % len(MODES)]
            wall0, cpu0 = time.perf_counter(), time.thread_time()
            stream.push(*front_end.push(block))
            wall[mode].append(time.perf_counter() - wall0)
            cpu[mode].append(time.thread_time() - cpu0)
            if mode == "paced":
                time.sleep(max(0.0, interval_s - (time.perf_counter() - wall0)))

    results: dict[str, object] = {
        "update_interval_ms": 1000 * interval_s,
        "model": f"{path} ({kind})",
        "music": str(music_file),
    }
    print(f"\none update = {update_samples} samples = {1000 * interval_s:.1f} ms of audio")
    print(f"{'mode':<14}{'updates':>8}{'wall p50 ms':>13}{'wall p99 ms':>13}{'CPU ms':>9}{'% one core':>12}")
    for mode in MODES:
        w, c = 1000 * np.array(wall[mode]), 1000 * np.array(cpu[mode])
        key = mode.replace(" ", "_")
        results[key] = {
            "updates": int(w.size),
            "wall_p50_ms": float(np.percentile(w, 50)),
            "wall_p99_ms": float(np.percentile(w, 99)),
            "cpu_ms_per_update": float(c.mean()),
            "cpu_percent_one_core": float(100 * c.mean() / (1000 * interval_s)),
        }
        row = results[key]
        print(
            f"{mode:<14}{w.size:>8}{row['wall_p50_ms']:>13.2f}{row['wall_p99_ms']:>13.2f}{row['cpu_ms_per_update']:>9.2f}{row['cpu_percent_one_core']:>12.1f}"
        )
    ratio = results["paced"]["cpu_ms_per_update"] / results["back_to_back"]["cpu_ms_per_update"]
    results["paced_over_back_to_back_cpu"] = ratio
    results["machine"] = machine_line()
    print(f"paced / back to back, CPU per update: {ratio:.2f}x")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

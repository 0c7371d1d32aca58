"""CPU cost of the MSD_musicnn port and its front-end, and what running it live would cost.

Measures, with 1 and 2 torch threads: one patch of 3 s (187 frames, as trained), 1.5 s or 1 s through
:class:`damer_core.musicnn.Musicnn`, ten 3 s patches (a 30 s clip, offline) in batches of 2 and of 10,
and the musicnn log-Mel stream fed one engine update at a time. Then derives the cost of a live "third
view" that re-runs the whole patch ending now every ``k`` engine updates (the update that runs it pays the
whole patch; the others pay only the front-end), against the live budgets: p99 per update (wall clock)
and the share of one core (process CPU time) at the engine's update rate.

Usage: ``python bench/bench_musicnn.py [--repeats N] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial

import numpy as np
import torch

from damer_core.features.musicnn_mel import MusicnnMelStream
from damer_core.musicnn import PATCH_FRAMES, load_musicnn

ENGINE_RATE = 22050
UPDATE_SAMPLES = 512  # two 256-sample hops per engine update: 43 updates/s
BUDGET_P99_MS = 5.0
BUDGET_CORE_SHARE = 0.15
PATCH_LENGTHS = (PATCH_FRAMES, 94, 63)  # 3 s (as trained), 1.5 s, 1 s


def timings_ms(fn, repeats: int, warmup: int = 3) -> tuple[np.ndarray, float]:
    """Wall-clock milliseconds of each call, and the mean process CPU milliseconds per call (all threads)."""
    for _ in range(warmup):
        fn()
    out = np.empty(repeats)
    cpu_start = time.process_time()
    for i in range(repeats):
        start = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - start) * 1000
    return out, (time.process_time() - cpu_start) * 1000 / repeats


def summary(ms: tuple[np.ndarray, float]) -> dict[str, float]:
    wall, cpu = ms
    return {
        "mean_ms": float(wall.mean()),
        "p50_ms": float(np.percentile(wall, 50)),
        "p99_ms": float(np.percentile(wall, 99)),
        "cpu_ms": cpu,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60, help="timed runs per measurement")
    parser.add_argument("--json", type=str, default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    model = load_musicnn()
    rng = np.random.default_rng(0)
    patches = {
        frames: torch.from_numpy(rng.uniform(0, 3, (1, frames, 96)).astype(np.float32)) for frames in PATCH_LENGTHS
    }
    clip = torch.from_numpy(rng.uniform(0, 3, (10, PATCH_FRAMES, 96)).astype(np.float32))
    audio = (0.1 * rng.standard_normal(ENGINE_RATE * 20)).astype(np.float32)
    updates_per_s = ENGINE_RATE / UPDATE_SAMPLES
    results: dict[str, dict] = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            patch_ms = {frames: timings_ms(partial(model, patch), args.repeats) for frames, patch in patches.items()}
            clip_ms = {
                batch: timings_ms(
                    lambda batch=batch: [model(part) for part in clip.split(batch)], max(5, args.repeats // 6)
                )
                for batch in (2, 10)
            }
            stream = MusicnnMelStream(ENGINE_RATE)
            blocks = iter(np.array_split(audio, audio.size // UPDATE_SAMPLES))
            front_ms = timings_ms(
                lambda stream=stream, blocks=blocks: stream.push(next(blocks)),
                min(args.repeats * 10, audio.size // UPDATE_SAMPLES - 5),
            )
        results[f"{threads}_thread"] = {
            **{f"patch_{frames}_frames": summary(ms) for frames, ms in patch_ms.items()},
            **{
                f"clip_30s_batch{batch}": {**summary(ms), "x_real_time": 30_000 / float(np.median(ms[0]))}
                for batch, ms in clip_ms.items()
            },
            "frontend_per_update": summary(front_ms),
        }

    print(f"{'measurement':28s} {'threads':>7s} {'mean ms':>9s} {'p50 ms':>9s} {'p99 ms':>9s} {'CPU ms':>9s}")
    for key, entry in results.items():
        for name, row in entry.items():
            print(
                f"{name:28s} {key[0]:>7s} {row['mean_ms']:9.3f} {row['p50_ms']:9.3f} {row['p99_ms']:9.3f}"
                f" {row['cpu_ms']:9.3f}"
            )
    for key, entry in results.items():
        for batch in (2, 10):
            speed = entry[f"clip_30s_batch{batch}"]["x_real_time"]
            print(f"offline, {key.replace('_', ' ')}, batches of {batch}: {speed:.0f}x real time (10 patches per 30 s)")

    live = []
    print(
        f"\nlive third view: the whole patch ending now every k updates ({updates_per_s:.1f} updates/s);"
        f" budgets p99 <= {BUDGET_P99_MS} ms per update, <= {BUDGET_CORE_SHARE:.0%} of one core"
    )
    print(
        f"{'frames':>6s} {'k':>4s} {'threads':>7s} {'p99 ms/update':>14s} {'core share':>11s} {'p99/budget':>11s}"
        f" {'share/budget':>13s}"
    )
    for key, entry in results.items():
        threads = int(key[0])
        front_row = entry["frontend_per_update"]
        for frames in PATCH_LENGTHS:
            patch_row = entry[f"patch_{frames}_frames"]
            for k in (1, 4, 8, 16, 43):
                p99 = patch_row["p99_ms"] + front_row["p99_ms"]
                share = (patch_row["cpu_ms"] / k + front_row["cpu_ms"]) * updates_per_s / 1000
                live.append(
                    {"frames": frames, "k": k, "threads": threads, "p99_ms_per_update": p99, "core_share": share}
                )
                print(
                    f"{frames:6d} {k:4d} {threads:7d} {p99:14.2f} {share:11.1%} {p99 / BUDGET_P99_MS:11.2f}"
                    f" {share / BUDGET_CORE_SHARE:13.2f}"
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"measurements": results, "live": live, "updates_per_s": updates_per_s}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

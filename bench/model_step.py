"""Cost of one live model update: the streaming step against recomputing the whole window, in one run.

Each update is one new token (``frames_per_token`` frames of both views). Three ways to produce its output
are timed side by side over the same stream, taking turns in blocks of ``--block`` updates (so that they
share the machine's noise, while each runs with its own data in cache as it would live):

* **step (traced)**: ``StreamingDamer(traced=True).push`` - the TorchScript trace of the cached step, as a
  live engine runs it;
* **step (eager)**: ``StreamingDamer(traced=False).push`` - the same step in eager PyTorch;
* **recompute W**: what one would write without streaming state - the offline forward pass over the
  frames of the last W tokens at every update, keeping the last token's output.

A second table puts the **offline forward pass** (``DamerModel.forward`` over whole clips: evaluation,
training, batch analysis) beside the live step, per second of audio: wall and CPU time, FLOPs and the
arithmetic rate reached (GFLOP/s), for one clip and for a batch of clips of ``--clip-seconds``. The offline
pass must cost no more than streaming the same audio.

The live step runs on one core (``torch.set_num_threads(1)``, the default here, ``--threads`` to change);
the model is the default config with random weights unless ``--bundle`` is given. Latency is wall-clock
time; compute per update is also given as the thread's CPU time (less sensitive to other processes on a
shared machine) and in FLOPs (matrix products, convolutions and attention, by ``torch.utils.flop_counter``).

    python -m bench.model_step [--updates 1000] [--block 50] [--threads 1] [--bundle PATH] [--json PATH]
                               [--clip-seconds 30] [--batch 16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from damer_core.bundle import load_bundle
from damer_core.model import DamerModel, ModelConfig
from damer_core.spec import FeatureSpec


def count_flops(run: Callable[[], object]) -> int:
    """Matrix-product, convolution and attention FLOPs of one call of ``run``."""
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops()


def time_offline(model: DamerModel, seconds: float, batch: int, repeats: int) -> dict[str, float]:
    """The offline forward pass over ``batch`` random clips of ``seconds``: median wall and CPU time of
    ``repeats`` calls (after one untimed call) and FLOPs, each per second of audio."""
    n_frames = int(seconds * model.spec.frame_rate)
    generator = torch.Generator().manual_seed(1)
    inputs = tuple(
        torch.randn(batch, n_frames, model.n_bins[view], generator=generator) * 2 - 5 if view in model.views else None
        for view in ("mel", "cochleagram", "musicnn")
    )
    audio_s = batch * n_frames / model.spec.frame_rate
    with torch.inference_mode():
        model(*inputs)
        wall, cpu = [], []
        for _ in range(repeats):
            wall_start, cpu_start = time.perf_counter(), time.thread_time()
            model(*inputs)
            wall.append(time.perf_counter() - wall_start)
            cpu.append(time.thread_time() - cpu_start)
        flops = count_flops(lambda: model(*inputs))
    wall_ms, cpu_ms = 1e3 * float(np.median(wall)) / audio_s, 1e3 * float(np.median(cpu)) / audio_s
    return {"ms_per_audio_s": wall_ms, "cpu_ms_per_audio_s": cpu_ms, "mflop_per_audio_s": flops / 1e6 / audio_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000, help="timed updates per method (default 1000)")
    parser.add_argument("--block", type=int, default=50, help="updates per turn of each method (default 50)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed updates first (default 100)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: one core)")
    parser.add_argument("--bundle", type=Path, help="model bundle to time (default: default config, random weights)")
    parser.add_argument("--clip-seconds", type=float, default=30.0, help="offline clips' length (default 30)")
    parser.add_argument("--batch", type=int, default=16, help="clips per batch of the offline pass (default 16)")
    parser.add_argument("--repeats", type=int, default=5, help="timed offline passes (default 5)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.bundle is not None:
        model = load_bundle(args.bundle, device="cpu").model
    else:
        torch.manual_seed(0)
        model = DamerModel(ModelConfig(), FeatureSpec()).eval()
    config, per_token = model.config, model.frames_per_token
    window_frames = config.window_tokens * per_token
    n_frames = (args.warmup + args.updates) * per_token + window_frames
    rng = np.random.default_rng(0)
    # Frames of every view the model reads, in the order of its inputs (mel, cochleagram, musicnn); None for
    # a view it does not read. Log-scale levels near real ones; the values do not change the cost.
    views = tuple(
        torch.from_numpy(rng.standard_normal((1, n_frames, model.n_bins[view]), dtype=np.float32) * 2 - 5)
        if view in model.views
        else None
        for view in ("mel", "cochleagram", "musicnn")
    )

    def frames(start: int, end: int, batch: bool = False) -> tuple[torch.Tensor | None, ...]:
        return tuple(None if x is None else x[:, start:end] if batch else x[0, start:end] for x in views)

    traced, eager = model.streaming(traced=True), model.streaming()
    for streamer in (traced, eager):  # fill the window so every timed update sees a full cache
        streamer.push(*frames(0, window_frames))

    def recompute(end: int) -> torch.Tensor:
        with torch.inference_mode():
            return model(*frames(end - window_frames, end, batch=True)).va[:, -1]

    methods = {
        "step (traced)": lambda new, end: traced.push(*new),
        "step (eager)": lambda new, end: eager.push(*new),
        "recompute W": lambda new, end: recompute(end),
    }
    wall: dict[str, list[float]] = {name: [] for name in methods}
    cpu: dict[str, list[float]] = {name: [] for name in methods}
    for first in range(0, args.warmup + args.updates, args.block):
        for name, run in methods.items():
            for update in range(first, min(first + args.block, args.warmup + args.updates)):
                start, end = window_frames + update * per_token, window_frames + (update + 1) * per_token
                wall_start, cpu_start = time.perf_counter(), time.thread_time()
                run(frames(start, end), end)
                wall_end, cpu_end = time.perf_counter(), time.thread_time()
                if update >= args.warmup:
                    wall[name].append(wall_end - wall_start)
                    cpu[name].append(cpu_end - cpu_start)

    state = model.init_state(1)
    with torch.inference_mode():
        mel, coch, musicnn = frames(0, per_token, batch=True)
        step_flops = count_flops(lambda: model.step(mel, coch, state, musicnn))
        recompute_flops = count_flops(lambda: recompute(window_frames))
    flops = {"step (traced)": step_flops, "step (eager)": step_flops, "recompute W": recompute_flops}

    stats = {}
    for name in methods:
        ms = np.asarray(wall[name]) * 1e3
        stats[name] = {
            "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)),
            "mean": float(ms.mean()),
            "cpu": float(np.mean(cpu[name]) * 1e3),
            "mflop": flops[name] / 1e6,
        }
    token_rate = model.spec.frame_rate / per_token
    live = stats["step (traced)"]
    offline = {
        "step (traced), streamed": {
            "ms_per_audio_s": live["mean"] * token_rate,
            "cpu_ms_per_audio_s": live["cpu"] * token_rate,
            "mflop_per_audio_s": live["mflop"] * token_rate,
        },
        f"offline, 1 clip of {args.clip_seconds:g} s": time_offline(model, args.clip_seconds, 1, args.repeats),
        f"offline, {args.batch} clips of {args.clip_seconds:g} s": time_offline(
            model, args.clip_seconds, args.batch, args.repeats
        ),
    }
    results = {
        "step_p50_ms": live["p50"],
        "step_p99_ms": live["p99"],
        "eager_step_p50_ms": stats["step (eager)"]["p50"],
        "eager_step_p99_ms": stats["step (eager)"]["p99"],
        "recompute_p50_ms": stats["recompute W"]["p50"],
        "recompute_p99_ms": stats["recompute W"]["p99"],
        "updates_per_s": 1e3 / live["mean"],
        "tokens_per_s_needed": token_rate,
        "step_cpu_mean_ms": live["cpu"],
        "eager_step_cpu_mean_ms": stats["step (eager)"]["cpu"],
        "recompute_cpu_mean_ms": stats["recompute W"]["cpu"],
        "recompute_over_step_time_p50": stats["recompute W"]["p50"] / live["p50"],
        "recompute_over_eager_step_time_p50": stats["recompute W"]["p50"] / stats["step (eager)"]["p50"],
        "recompute_over_step_cpu": stats["recompute W"]["cpu"] / live["cpu"],
        "recompute_over_eager_step_cpu": stats["recompute W"]["cpu"] / stats["step (eager)"]["cpu"],
        "step_mflop": step_flops / 1e6,
        "recompute_mflop": recompute_flops / 1e6,
        "recompute_over_step_flops": recompute_flops / step_flops,
        "per_audio_second": offline,
        "offline_over_streamed_cpu": {
            name: row["cpu_ms_per_audio_s"] / offline["step (traced), streamed"]["cpu_ms_per_audio_s"]
            for name, row in offline.items()
        },
        "parameters": sum(p.numel() for p in model.parameters()),
        "window_tokens": config.window_tokens,
        "frames_per_token": per_token,
        "updates": args.updates,
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }

    print(
        f"model: {results['parameters']:,} parameters, W = {config.window_tokens} tokens "
        f"({config.window_tokens / token_rate:.2f} s), {per_token} frames/token ({token_rate:.2f} tokens/s); "
        f"{args.updates} updates, torch threads = {args.threads}, {results['machine']}"
    )
    print(f"{'method':<16}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'CPU ms':>9}{'MFLOP':>9}")
    for name, row in stats.items():
        print(
            f"{name:<16}{row['p50']:>9.3f}{row['p99']:>9.3f}{row['mean']:>9.3f}{row['cpu']:>9.3f}{row['mflop']:>9.2f}"
        )
    print(
        f"recompute / step (traced): {results['recompute_over_step_time_p50']:.1f}x wall p50, "
        f"{results['recompute_over_step_cpu']:.1f}x CPU; recompute / step (eager): "
        f"{results['recompute_over_eager_step_time_p50']:.1f}x wall p50, "
        f"{results['recompute_over_eager_step_cpu']:.1f}x CPU; {results['recompute_over_step_flops']:.0f}x FLOPs"
    )
    print(f"live step: {results['updates_per_s']:.0f} updates/s; real time needs {token_rate:.1f}")
    print()
    print(f"{'per second of audio':<30}{'wall ms':>9}{'CPU ms':>9}{'MFLOP':>9}{'GFLOP/s':>9}{'CPU / step':>12}")
    for name, row in offline.items():
        rate = row["mflop_per_audio_s"] / row["cpu_ms_per_audio_s"]
        ratio = results["offline_over_streamed_cpu"][name]
        print(
            f"{name:<30}{row['ms_per_audio_s']:>9.3f}{row['cpu_ms_per_audio_s']:>9.3f}"
            f"{row['mflop_per_audio_s']:>9.1f}{rate:>9.2f}{ratio:>12.3f}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Offline throughput of ``damer analyze`` on real music: the live engine per file against the batch path on
one core, two worker processes and two Ray workers, in files per second and multiples of real time.

Four ways to analyse the same files, each a whole run from the model's loading to the last file written
(CSV, JSON summary and plot per file, ``index.csv`` and ``summary.json``), run one after the other in each
round so that they share the machine's noise:

* **live engine**: how ``damer analyze`` computed every file before the batch path: the streaming engine
  fed from the file as fast as it goes (:func:`streamer.batch.streamed.stream_table`), in this process, one
  torch thread, the same outputs written;
* **batch --jobs 1**: ``damer analyze --jobs 1``: the batch path in this process, one torch thread;
* **batch --jobs 2**: ``damer analyze --jobs 2``: two worker processes (their start-up included);
* **Ray, 2 workers**: ``damer analyze --ray ADDRESS`` on a local Ray head of two CPUs started before the
  round (its start is excluded; the driver's connection and the workers' start-up are included).

With ``--compare BUNDLE ...`` each round also runs the live engine and ``batch --jobs 1`` with those bundles
(another model's whole offline pipeline, e.g. the student-view "light" bundle against the default);
their rows say how many times faster the first model is in the same way.

Machines here are shared: quote the ratios of one run (``batch --jobs 1`` / ``live engine`` is the batch
path's gain per core), with the load average printed beside them.

    python -m bench.analyze_speed [--input FILE ...] [--files 6] [--model BUNDLE] [--compare BUNDLE ...]
                                  [--rounds 1] [--no-ray] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import soundfile
import torch

from bench.ray_head import RAY_ENV, RayUnavailable, local_head
from bench.report import machine_line, write_json
from damer_core.cli import main as damer_main
from damer_core.shipped import resolve_model
from streamer.analysis import OutputOptions, render, unique_stem, write_outputs
from streamer.batch.streamed import stream_table
from streamer.builder import load_model

MUSIC_DIRS = (Path("data/music"), Path("../shared/data/4q"))
WAYS = ("live engine", "batch --jobs 1", "batch --jobs 2", "Ray, 2 workers")
COMPARED_WAYS = ("live engine", "batch --jobs 1")
"""The ways a ``--compare`` bundle runs."""


def pick_files(explicit: list[Path] | None, count: int) -> list[Path]:
    if explicit:
        return explicit
    for folder in MUSIC_DIRS:
        files = sorted(folder.rglob("*.ogg")) + sorted(folder.rglob("*.mp3"))
        if files:
            step = max(1, len(files) // count)
            return files[::step][:count]
    raise SystemExit("no music found: pass --input FILE ...")


def live_engine(files: list[Path], model: str, out: Path) -> None:
    """The engine per file, in this process, with the outputs the command writes per file."""
    torch.set_num_threads(1)
    bundle = load_model(model, "cpu")
    options = OutputOptions(str(resolve_model(model)), 0.0)
    used: set[str] = set()
    for path in files:
        write_outputs(out, unique_stem(path.stem, used), render(path, stream_table(path, bundle), bundle, options))


def command(files: list[Path], model: str, out: Path, *flags: str) -> None:
    """``damer analyze`` in this process (its lines on the terminal are dropped)."""
    argv = ["analyze", *map(str, files), "--out", str(out), "--model", model, "--device", "cpu", *flags]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = damer_main(argv)
    if status != 0:
        raise SystemExit(f"damer analyze {' '.join(flags)} exited with status {status}")


def compare_batch(files: list[Path], model: str, out: Path) -> None:
    """``damer analyze --jobs 1`` with a ``--compare`` bundle."""
    command(files, model, out, "--jobs", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--input",
        type=Path,
        nargs="+",
        help="music files (default: spread over data/music, made by python -m train.fetch_music --out data/music)",
    )
    parser.add_argument("--files", type=int, default=6, help="how many files when --input is not given (default 6)")
    parser.add_argument("--model", default="default", help="model bundle (default: the shipped default model)")
    parser.add_argument(
        "--compare", nargs="+", default=[], metavar="BUNDLE", help="other bundles, run the live and --jobs 1 ways"
    )
    parser.add_argument("--rounds", type=int, default=1, help="times each way runs, in turn (default 1)")
    parser.add_argument("--no-ray", action="store_true", help="leave out the Ray row")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    files = pick_files(args.input, args.files)
    audio_s = sum(soundfile.info(str(path)).duration for path in files)
    ways = [way for way in WAYS if not (args.no_ray and way.startswith("Ray"))]
    compared = [(f"{way} [{model}]", way, model) for model in args.compare for way in COMPARED_WAYS]
    walls: dict[str, list[float]] = {way: [] for way in ways + [row for row, _, _ in compared]}
    loads: list[float] = []
    print(f"model: {resolve_model(args.model)}; {len(files)} files, {audio_s / 60:.1f} min of audio")
    with contextlib.ExitStack() as stack:
        address = None
        if "Ray, 2 workers" in ways:
            try:
                address = stack.enter_context(local_head(cpus=2))
                os.environ.update(RAY_ENV)
            except RayUnavailable as exc:
                print(f"Ray row left out: {exc}")
                ways.remove("Ray, 2 workers")
                del walls["Ray, 2 workers"]
        runs: dict[str, Callable[[Path], None]] = {
            "live engine": lambda out: live_engine(files, args.model, out),
            "batch --jobs 1": lambda out: command(files, args.model, out, "--jobs", "1"),
            "batch --jobs 2": lambda out: command(files, args.model, out, "--jobs", "2"),
            "Ray, 2 workers": lambda out: command(files, args.model, out, "--ray", str(address)),
        }
        for row, way, model in compared:
            runs[row] = (
                functools.partial(live_engine, files, model)
                if way == "live engine"
                else functools.partial(compare_batch, files, model)
            )
        command(files[:1], args.model, Path(tempfile.mkdtemp(prefix="damer-bench-")), "--jobs", "1")  # warm up
        for model in args.compare:
            command(files[:1], model, Path(tempfile.mkdtemp(prefix="damer-bench-")), "--jobs", "1")
        for round_ in range(args.rounds):
            for way in walls:
                out = Path(tempfile.mkdtemp(prefix="damer-bench-"))
                start = time.perf_counter()
                runs[way](out)
                walls[way].append(time.perf_counter() - start)
                loads.append(os.getloadavg()[0])
                print(f"round {round_ + 1}, {way}: {walls[way][-1]:.1f} s", flush=True)
    numbers: dict[str, Any] = {"files": len(files), "audio_s": audio_s, "model": str(resolve_model(args.model))}
    base = sum(walls["live engine"])
    width = max(20, *(len(way) + 2 for way in walls))
    print(f"{'way':<{width}}{'files/s':>9}{'x real time':>13}{'vs live engine':>16}{'first model faster':>20}")
    for way in walls:
        wall = sum(walls[way])
        key = way.replace(" --", "_").replace(", ", "_").replace(" ", "_").lower()
        numbers[key] = {
            "files_per_s": args.rounds * len(files) / wall,
            "x_realtime": args.rounds * audio_s / wall,
            "vs_live_engine": base / wall,
            "walls_s": walls[way],
        }
        row = numbers[key]
        line = f"{way:<{width}}{row['files_per_s']:9.3f}{row['x_realtime']:13.1f}{row['vs_live_engine']:15.2f}x"
        same_way = next((plain for name, plain, _ in compared if name == way), None)
        if same_way is not None:
            row["first_model_faster"] = wall / sum(walls[same_way])
            line += f"{row['first_model_faster']:19.2f}x"
        print(line)
    numbers["load_average_during"] = [round(load, 2) for load in loads]
    numbers["machine"] = machine_line()
    print(f"load average after each run: {', '.join(f'{load:.2f}' for load in loads)}")
    print(f"machine: {numbers['machine']}")
    write_json(args.json, numbers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

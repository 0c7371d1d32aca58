"""Offline throughput of ``damer analyze`` on real music, in multiples of real time.

Three ways to get the valence/arousal curve of the same files, timed side by side in one run (each file in
turn, so they share the machine's noise):

* **analyze**: what ``damer analyze`` does per file: the streaming engine fed from the file as fast as
  possible (decoding, resampling, front-end, model step per token), plus the CSV, the JSON summary and the
  plot, written atomically; everything included.
* **engine**: the same engine run without any output files.
* **offline batch**: decoding, torchaudio resampling of the whole file, ``frontend_offline`` and one
  ``DamerModel.forward`` over the whole clip: the same numbers (see the engine's parity test) without
  streaming; a ceiling for what the engine could reach.

Model loading is excluded; the engine's per-run warm-up is excluded from "engine" only. One torch thread (the
default config). Without a trained default bundle the model is the default config with random weights (same
cost, meaningless outputs).

    python -m bench.analyze_speed [--input FILE ...] [--files 6] [--json PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import soundfile
import torch
import torchaudio

from bench.report import machine_line, write_json
from damer_core.bundle import default_bundle_path, random_bundle
from damer_core.features.frontend import frontend_offline
from streamer.analysis import analyze_file
from streamer.builder import FAST_BLOCK, build_engine, load_model
from streamer.settings import StreamSettings
from streamer.sources.file import SoundFileReader, file_source

MUSIC_DIRS = (Path("data/music"), Path("../shared/data/4q"))


def pick_files(explicit: list[Path] | None, count: int) -> list[Path]:
    if explicit:
        return explicit
    for folder in MUSIC_DIRS:
        files = sorted(folder.rglob("*.ogg")) + sorted(folder.rglob("*.mp3"))
        if files:
            step = max(1, len(files) // count)
            return files[::step][:count]
    raise SystemExit("no music found: pass --input FILE ...")


def offline_batch(path: Path, bundle) -> None:  # noqa: ANN001 - Bundle
    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = torch.from_numpy(audio.mean(axis=1))
    if rate != bundle.spec.sample_rate:
        mono = torchaudio.functional.resample(mono, rate, bundle.spec.sample_rate)
    views = frontend_offline(mono.numpy(), bundle.spec)
    with torch.inference_mode():
        bundle.model(*(torch.from_numpy(view)[None] for view in views))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--input",
        type=Path,
        nargs="+",
        help="music files (default: spread over data/music, made by python -m train.fetch_music --out data/music)",
    )
    parser.add_argument("--files", type=int, default=6, help="how many files when --input is not given (default 6)")
    parser.add_argument("--model", help="model bundle (default: trained default, else random weights)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    settings = StreamSettings()
    torch.set_num_threads(settings.engine.torch_threads)
    workdir = Path(tempfile.mkdtemp(prefix="damer-bench-"))
    if args.model is not None:
        bundle_file, kind = Path(args.model), "given bundle"
    elif default_bundle_path().is_file():
        bundle_file, kind = default_bundle_path(), "trained default bundle"
    else:
        bundle_file, kind = (
            random_bundle(workdir / "random.safetensors", seed=0),
            "default config, RANDOM weights (no trained default bundle yet)",
        )
    bundle = load_model(str(bundle_file), "cpu")
    files = pick_files(args.input, args.files)
    offline_batch(files[0], bundle)  # warm up (JIT caches, allocator)
    totals = {"analyze": 0.0, "engine": 0.0, "offline batch": 0.0}
    audio_s = 0.0
    print(f"model: {bundle_file} ({kind})")
    print(f"{'file':<44}{'audio s':>9}{'analyze x':>11}{'engine x':>10}{'batch x':>9}")
    for path in files:
        duration = soundfile.info(str(path)).duration
        times = {}
        start = time.perf_counter()
        analyze_file(path, workdir, path.stem, bundle, settings, threading.Event())
        times["analyze"] = time.perf_counter() - start
        engine = build_engine(
            bundle, file_source(SoundFileReader(path), "fast", settings.engine.ring_seconds, FAST_BLOCK), [], 0.0, 0.25
        )
        times["engine"] = engine.run().wall_s  # from the start of the source: the warm-up is excluded
        start = time.perf_counter()
        offline_batch(path, bundle)
        times["offline batch"] = time.perf_counter() - start
        audio_s += duration
        for key, value in times.items():
            totals[key] += value
        name = path.name if len(path.name) <= 42 else path.name[:39] + "..."
        print(
            f"{name:<44}{duration:9.1f}{duration / times['analyze']:11.1f}{duration / times['engine']:10.1f}"
            f"{duration / times['offline batch']:9.1f}"
        )
    numbers = {
        "x_realtime": audio_s / totals["analyze"],
        "x_realtime_engine_only": audio_s / totals["engine"],
        "x_realtime_offline_batch": audio_s / totals["offline batch"],
        "audio_s": audio_s,
        "files": len(files),
        "model": f"{bundle_file} ({kind})",
        "machine": machine_line(),
    }
    print(
        f"{'total':<44}{audio_s:9.1f}{numbers['x_realtime']:11.1f}{numbers['x_realtime_engine_only']:10.1f}{numbers['x_realtime_offline_batch']:9.1f}"
    )
    print(f"machine: {numbers['machine']}")
    write_json(args.json, numbers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

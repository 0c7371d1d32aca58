"""Side by side with vibenet: throughput and high/low accuracy of ``damer analyze`` and the vibenet peer, on the
same files in the same run.

* **damer**: the ``damer analyze`` command itself, run in this process over all the files at once (model
  loading and worker start-up, decoding, resampling, front-end, model, CSV, JSON, the PNG unless ``--no-plot``,
  ``index.csv``: all included), on the CPU, outputs unsmoothed. A file's value is the mean of its outputs, in
  [-1, 1]; "high" is > 0.
* **vibenet** (optional extra ``peers``, GPL-3.0): its own pipeline, in the order its ``predict`` runs it
  (soundfile decoding and soxr resampling to 16 kHz, its log-Mel, its ONNX EfficientNet), one whole-clip
  valence and energy in [0, 1] per file; "high" is > 0.5. Its energy is compared with damer's arousal.

Fair on cores: both run on the same cores (all those the process may use), one after the other. Each may use
several processes: damer ``--jobs N`` (``damer analyze --jobs N``: N worker processes; 1: this process; 0:
one per core), vibenet ``--peer-jobs N`` (N worker processes of its pipeline, files handed out one at a time;
default 1: this process; 0: one per core); every process has ``--threads`` intra-op threads (default 1,
damer's default): torch's (``engine.torch_threads``) and onnxruntime's. vibenet's own FFT call asks scipy for
every core, as it does for its users. Both are warmed up on the first file before anything is timed; each time
includes loading the model (in every worker) and starting the workers, and throughput is the audio duration of
all files over the wall time (× real time).

Each at its best on all cores: ``--jobs 0 --no-plot`` for damer (worker processes of one torch thread each,
as ``damer analyze`` is built; no plots, since vibenet draws none) and ``--peer-jobs 1 --threads 1`` for
vibenet: measured on this 2-core machine (60 4Q clips, load average 3.5), one process of one onnxruntime
thread ran 185x real time, one process of two threads 142x, two processes of one thread 96x (its FFT already
uses every core, and a second process only adds its start-up and contention).

Labels (``--labels CSV``): the 4Q annotations ``Song,Quadrant`` (matched to files by stem) or a table
``file,valence,arousal`` with values in [-1, 1] (matched by the stem of ``file``); unmatched files are timed
but not scored. ``--holdout-from-bundle`` scores the held-out clips recorded in the bundle's card instead (its
recipe's test split, else its validation split: the source split again by group as training did;
relative paths are taken from the current directory, as in training: run it from the repository root), so
that the model is never scored on clips it trained on. Scores: accuracy and ROC AUC (on the continuous
values) per dimension and 4-quadrant accuracy (:mod:`train.metrics`), and the systems' agreement (Spearman
over all files, per dimension).

    python -m bench.peers PATHS... [--labels CSV] [--json PATH] [--model BUNDLE] [--threads N] [--jobs N]
        [--peer-jobs N] [--no-plot]
    python -m bench.peers --holdout-from-bundle [--model BUNDLE] [--json PATH] [--jobs 0 --no-plot]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import importlib.metadata
import importlib.util
import io
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from tqdm import tqdm

from damer_core.bundle import default_bundle_path, load_bundle
from damer_core.cli import main as damer_main
from damer_core.config import from_mapping
from damer_core.errors import AudioError, BundleError, DamerError
from streamer.batch.inputs import walk_sound_files
from train.data import split_source
from train.datasets import read_dataset
from train.datasets.four_q import QUADRANT_SIGNS
from train.datasets.tables import SIGNED_UNIT, parse_label, read_csv
from train.errors import DatasetError
from train.metrics import average_ranks, pearson, va_metrics
from train.recipe import DataConfig

DIMENSIONS = ("arousal", "valence")
SYSTEMS = ("damer", "vibenet")
MISSING_PEER = "vibenet is not installed; it comes with the optional extra 'peers': pip install -e '.[peers]'"


# ------------------------------------------------------------------------------------------------ inputs


def find_audio(paths: Sequence[str | Path]) -> list[Path]:
    """The files among ``paths`` and the sound files below the folders among them (walked as ``damer analyze``
    walks them: :func:`streamer.batch.inputs.walk_sound_files`), in order, no file twice.

    Raises:
        AudioError: a path does not exist, or no audio file is found.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += walk_sound_files(path)
        elif path.is_file():
            found.append(path)
        else:
            raise AudioError(f"{path}: no such file or folder")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise AudioError(f"no sound file in {', '.join(map(str, paths))}")
    return unique


def read_labels(path: str | Path, files: Sequence[Path]) -> np.ndarray:
    """Targets ``(n_files, 2)`` [valence, arousal] in [-1, 1] for ``files`` from a label table; ``NaN`` where a
    file has no label.

    The table is either the 4Q annotations (``Song,Quadrant``: a quadrant gives the signs, ±1) or
    ``file,valence,arousal`` with values in [-1, 1]; rows are matched to files by stem.

    Raises:
        DatasetError: unreadable or malformed table, a stem labelled twice, a value out of range.
    """
    path = Path(path)
    header, _ = read_csv(path, required=())
    labels: dict[str, tuple[float, float]] = {}
    lines: dict[str, int] = {}
    if {"Song", "Quadrant"} <= set(header):
        _, rows = read_csv(path, required=("Song", "Quadrant"))
        for row in rows:
            quadrant = row.cells["Quadrant"]
            if quadrant not in QUADRANT_SIGNS:
                raise DatasetError(f"{path}:{row.line}: column 'Quadrant': expected Q1, Q2, Q3 or Q4, got {quadrant!r}")
            stem = row.cells["Song"]
            _add_label(path, row.line, stem, QUADRANT_SIGNS[quadrant], labels, lines)
    elif {"file", "valence", "arousal"} <= set(header):
        _, rows = read_csv(path, required=("file", "valence", "arousal"))
        for row in rows:
            value = (parse_label(path, row, "valence", SIGNED_UNIT), parse_label(path, row, "arousal", SIGNED_UNIT))
            _add_label(path, row.line, Path(row.cells["file"]).stem, value, labels, lines)
    else:
        raise DatasetError(
            f"{path}:1: expected columns 'Song,Quadrant' or 'file,valence,arousal' (found: {', '.join(header)})"
        )
    return np.array([labels.get(f.stem, (math.nan, math.nan)) for f in files], dtype=np.float64).reshape(-1, 2)


def _add_label(
    path: Path,
    line: int,
    stem: str,
    value: tuple[float, float],
    labels: dict[str, tuple[float, float]],
    lines: dict[str, int],
) -> None:
    if stem in labels:
        raise DatasetError(f"{path}:{line}: '{stem}' is labelled again (first at line {lines[stem]})")
    labels[stem], lines[stem] = value, line


def holdout_from_card(card: dict[str, Any], where: str) -> tuple[list[Path], np.ndarray]:
    """The held-out clips of a trained bundle and their targets ``(n, 2)`` [valence, arousal]: its recipe's
    test split, or its validation split when it has no test split.

    The card's recipe names the split's source, fraction and seed; the source is read again and split with
    :func:`train.data.split_source` exactly as training did, and the count is checked against the card's
    record of that split's clips.

    Raises:
        BundleError: the card records no recipe, no held-out split, or a different number of clips.
        ConfigError, DatasetError: the recorded source cannot be read as it was.
    """
    recipe = card.get("recipe")
    if not isinstance(recipe, dict) or "data" not in recipe:
        raise BundleError(f"{where}: the model card records no training recipe: pass PATHS and --labels instead")
    data = from_mapping(DataConfig, recipe["data"], where=f"{where}: model card recipe.data")
    split = "test" if data.test.source is not None else "validation"
    name = getattr(data, split).source
    if name is None:
        raise BundleError(f"{where}: the model was trained without a held-out split: pass PATHS and --labels instead")
    source = next(s for s in data.sources if s.name == name)
    clips = read_dataset(source.kind, source.resolved_path(), **source.options)
    held_out = split_source(source, clips, data)[1].get(split, [])
    recorded = [row.get(f"{split}_clips") for row in card.get("data", []) if row.get("name") == name]
    if recorded and recorded[0] != len(held_out):
        raise BundleError(
            f"{where}: the card records {recorded[0]} {split} clips of {name!r} but {source.resolved_path()} "
            f"now gives {len(held_out)}: the data changed since training"
        )
    missing = [clip.track_id for clip in held_out if clip.audio_path is None]
    if missing:
        raise BundleError(
            f"{where}: {split} source {name!r} has no audio files (e.g. {missing[0]}): it cannot be analysed"
        )
    return [clip.audio_path for clip in held_out], np.array(
        [(c.valence, c.arousal) for c in held_out], dtype=np.float64
    )


# ----------------------------------------------------------------------------------------------- scoring


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation of two ``(n,)`` arrays (Pearson on average ranks); ``nan`` if one is constant."""
    return pearson(average_ranks(x), average_ranks(y))


def score(target_va: np.ndarray, damer_va: np.ndarray, vibenet_ve: np.ndarray) -> dict[str, float]:
    """High/low accuracy and ROC AUC per dimension and 4-quadrant accuracy of both systems.

    Args:
        target_va: ``(n, 2)`` [valence, arousal] in [-1, 1]; "high" is > 0; ``NaN`` = unlabelled (left out).
        damer_va: ``(n, 2)`` damer's clip values [valence, arousal] in [-1, 1], "high" when > 0.
        vibenet_ve: ``(n, 2)`` vibenet's [valence, energy] in [0, 1], "high" when > 0.5.

    Returns:
        ``{system}_acc_{arousal,valence,quadrant}``, ``{system}_auc_{arousal,valence}`` and ``n_scored``.
    """
    # 2x - 1 maps vibenet's threshold 0.5 onto 0 exactly and keeps the order (same AUC).
    predictions = {
        "damer": np.asarray(damer_va, dtype=np.float64),
        "vibenet": 2.0 * np.asarray(vibenet_ve, dtype=np.float64) - 1.0,
    }
    result: dict[str, float] = {}
    for system, predicted in predictions.items():
        report = va_metrics(target_va, predicted)
        for dimension in DIMENSIONS:
            result[f"{system}_acc_{dimension}"] = report[dimension]["accuracy"]
            result[f"{system}_auc_{dimension}"] = report[dimension]["auc"]
        result[f"{system}_acc_quadrant"] = report["quadrant"]["accuracy"]
    result["n_scored"] = int(report["quadrant"]["n"])
    return result


# ------------------------------------------------------------------------------------------------ systems


@dataclass(frozen=True)
class Parallelism:
    """How the systems run: damer in ``jobs`` processes, vibenet in ``peer_jobs``, each process with ``threads``
    intra-op threads; damer draws plots if ``plot``."""

    jobs: int = 1
    peer_jobs: int = 1
    threads: int = 1
    plot: bool = True

    def note(self) -> str:
        """One line for the table."""

        def where(jobs: int) -> str:
            return "this process" if jobs == 1 else f"{jobs} worker processes"

        plots = "" if self.plot else ", without plots"
        return (
            f"same {len(os.sched_getaffinity(0))} core(s); damer in {where(self.jobs)}{plots}, vibenet in "
            f"{where(self.peer_jobs)}; {self.threads} intra-op thread(s) per process (torch, onnxruntime)"
        )


def run_damer(files: Sequence[Path], bundle: Path, parallel: Parallelism, workdir: Path) -> tuple[float, np.ndarray]:
    """Run ``damer analyze`` over ``files`` from this process; its per-file progress goes to standard error.

    Returns:
        Wall seconds of the whole command, and each file's mean streamed ``(valence, arousal)``, ``(n, 2)``.

    Raises:
        AudioError: the command failed, or a file failed or was too short for one update.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "settings.yaml"
    config.write_text(f"engine:\n  torch_threads: {parallel.threads}\n  smoothing_s: 0.0\n", encoding="utf-8")
    out = workdir / "damer"
    argv = [
        "analyze",
        *map(str, files),
        "--out",
        str(out),
        "--model",
        str(bundle),
        "--config",
        str(config),
        "--device",
        "cpu",
        "--jobs",
        str(parallel.jobs),
        "--plot" if parallel.plot else "--no-plot",
    ]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        status = damer_main(argv)
    wall = time.perf_counter() - start
    summary_path = out / "summary.json"
    if not summary_path.is_file():
        raise AudioError(f"damer analyze exited with status {status} (its error is printed above)")
    results = json.loads(summary_path.read_text(encoding="utf-8"))["files"]
    if len(results) != len(files):
        raise AudioError(f"damer analyze stopped after {len(results)} of {len(files)} file(s) (status {status})")
    values = []
    for path, result in zip(files, results, strict=True):
        if result["status"] != "ok" or result["valence"]["mean"] is None:
            raise AudioError(
                f"{path}: damer analyze gave no output ({result.get('reason', 'too short for one update')})"
            )
        values.append((result["valence"]["mean"], result["arousal"]["mean"]))
    return wall, np.array(values, dtype=np.float64)


def vibenet_available() -> bool:
    """Whether the optional peer can be imported."""
    return importlib.util.find_spec("vibenet") is not None and importlib.util.find_spec("onnxruntime") is not None


def run_vibenet(
    files: Sequence[Path], parallel: Parallelism, progress: Callable[[Iterable[Any]], Iterable[Any]] = iter
) -> tuple[float, np.ndarray]:
    """Run vibenet's pipeline over ``files``: in this process, or in ``parallel.peer_jobs`` worker processes, each
    with an onnxruntime session of ``parallel.threads`` intra-op threads.

    Args:
        progress: wraps the results as they come (e.g. a progress bar).

    Returns:
        Wall seconds (model loads and worker start-up included) and each file's ``(valence, energy)`` in
        [0, 1], ``(n, 2)``.
    """
    start = time.perf_counter()
    names = [str(path) for path in files]
    if parallel.peer_jobs == 1:
        _start_vibenet(parallel.threads)
        values = list(progress(map(_vibenet_one, names)))
    else:
        context = multiprocessing.get_context("spawn")
        with context.Pool(parallel.peer_jobs, initializer=_start_vibenet, initargs=(parallel.threads,)) as pool:
            values = list(progress(pool.imap(_vibenet_one, names)))
    return time.perf_counter() - start, np.array(values, dtype=np.float64)


_vibenet_session: Any = None


def _start_vibenet(threads: int) -> None:
    """Load vibenet's network into this process (once per worker)."""
    global _vibenet_session
    with warnings.catch_warnings():
        # pydub, imported by vibenet, warns when FFmpeg is absent; vibenet decodes with soundfile first.
        warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)
        import onnxruntime
        import vibenet
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    model_file = Path(vibenet.__file__).parent / "artifacts" / "efficientnet_model.onnx"
    _vibenet_session = onnxruntime.InferenceSession(
        str(model_file), sess_options=options, providers=["CPUExecutionProvider"]
    )


def _vibenet_one(path: str) -> tuple[float, float]:
    """vibenet's ``(valence, energy)`` of one file, as its ``predict`` computes it."""
    from vibenet.core import InferenceResult, extract_mel, load_audio

    mel = extract_mel(load_audio(path), 16000)
    logits = _vibenet_session.run(None, {"x": mel[np.newaxis]})[0][0]
    result = InferenceResult.from_logits([float(x) for x in logits])
    return result.valence, result.energy


# ------------------------------------------------------------------------------------------------- report


def format_table(numbers: dict[str, Any]) -> str:
    """The side-by-side table of :func:`compare`'s numbers, with the better system named on each row."""

    def row(label: str, key: str, digits: int) -> str:
        damer, vibenet = numbers[f"damer_{key}"], numbers[f"vibenet_{key}"]
        if math.isnan(damer) or math.isnan(vibenet):
            better = "-"
        else:
            better = "damer" if damer > vibenet else "vibenet" if vibenet > damer else "tie"
        return f"{label:<30}{damer:>10.{digits}f}{vibenet:>10.{digits}f}   {better}"

    lines = [
        f"damer vs vibenet: {numbers['files']} files, {numbers['audio_s'] / 60:.1f} min of audio, {numbers['date']}",
        f"machine: {numbers['machine']}",
        f"parallelism: {numbers['parallelism']}",
        f"damer model: {numbers['model']}",
        f"{'':<30}{'damer':>10}{'vibenet':>10}   better",
        row("throughput (x real time)", "x_rt", 1) + f" (damer/vibenet = {numbers['speed_ratio']:.2f})",
    ]
    if "n_scored" in numbers:
        lines.append(f"scored on {numbers['n_scored']} labelled files ({numbers['labels']}):")
        for dimension in DIMENSIONS:
            lines.append(row(f"  {dimension} accuracy", f"acc_{dimension}", 3))
            lines.append(row(f"  {dimension} ROC AUC", f"auc_{dimension}", 3))
        lines.append(row("  4-quadrant accuracy", "acc_quadrant", 3))
    lines.append(
        f"agreement over {numbers['files']} files (Spearman): valence {numbers['spearman_valence']:.3f}, "
        f"damer arousal vs vibenet energy {numbers['spearman_arousal']:.3f}"
    )
    return "\n".join(lines)


def compare(
    files: Sequence[Path],
    bundle: Path,
    parallel: Parallelism,
    target_va: np.ndarray | None,
    labels: str,
    workdir: Path,
) -> dict[str, Any]:
    """Warm both systems up on the first file, time each over all files, score them; returns the numbers."""
    audio_s = sum(_duration(path) for path in files)
    print(f"warming up both systems on {files[0]} ...", flush=True)
    run_damer(files[:1], bundle, dataclasses.replace(parallel, jobs=1), workdir / "warm-up")
    run_vibenet(files[:1], dataclasses.replace(parallel, peer_jobs=1))
    print(f"damer analyze over {len(files)} file(s):", flush=True)
    damer_wall, damer_va = run_damer(files, bundle, parallel, workdir)
    vibenet_wall, vibenet_ve = run_vibenet(
        files, parallel, lambda items: tqdm(items, total=len(files), desc="vibenet", unit="file")
    )
    card = load_bundle(bundle, "cpu").card
    numbers: dict[str, Any] = {
        "damer_x_rt": audio_s / damer_wall,
        "vibenet_x_rt": audio_s / vibenet_wall,
        "speed_ratio": vibenet_wall / damer_wall,
        "files": len(files),
        "audio_s": audio_s,
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f} after the run",
        "jobs": parallel.jobs,
        "peer_jobs": parallel.peer_jobs,
        "threads": parallel.threads,
        "damer_plots": parallel.plot,
        "parallelism": parallel.note(),
        "model": f"{bundle} ({card.get('training_data', 'no training data recorded')})",
        "vibenet_version": importlib.metadata.version("vibenet"),
        "spearman_valence": spearman(damer_va[:, 0], vibenet_ve[:, 0]),
        "spearman_arousal": spearman(damer_va[:, 1], vibenet_ve[:, 1]),
        "clips": [
            {
                "file": str(path),
                "damer_valence": d[0],
                "damer_arousal": d[1],
                "vibenet_valence": v[0],
                "vibenet_energy": v[1],
            }
            for path, d, v in zip(files, damer_va.tolist(), vibenet_ve.tolist(), strict=True)
        ],
    }
    if target_va is not None:
        numbers["labels"] = labels
        numbers.update(score(target_va, damer_va, vibenet_ve))
        for clip, target in zip(numbers["clips"], target_va.tolist(), strict=True):
            clip["target_valence"], clip["target_arousal"] = (None if math.isnan(t) else t for t in target)
    return numbers


def _duration(path: Path) -> float:
    try:
        return soundfile.info(str(path)).duration
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: cannot be read as audio ({exc})") from None


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", metavar="PATH", help="sound files or folders of them")
    parser.add_argument(
        "--labels", metavar="CSV", help="4Q annotations (Song,Quadrant) or file,valence,arousal in [-1, 1]"
    )
    parser.add_argument(
        "--holdout-from-bundle",
        action="store_true",
        help="analyse and score the held-out (test, else validation) clips named by the bundle's card",
    )
    parser.add_argument("--model", metavar="BUNDLE", help="damer model bundle (default: the shipped default model)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads of each system (default 1)")
    parser.add_argument(
        "--jobs", type=int, default=1, help="damer's worker processes (default 1: this process; 0: one per core)"
    )
    parser.add_argument(
        "--peer-jobs", type=int, default=1, help="vibenet's worker processes (default 1: this process; 0: one per core)"
    )
    parser.add_argument(
        "--plot", action=argparse.BooleanOptionalAction, default=True, help="damer draws its plots (default: on)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    args = parser.parse_args(argv)
    if not vibenet_available():
        print(f"bench.peers: {MISSING_PEER}", file=sys.stderr)
        return 2
    if not 1 <= args.threads <= 64:
        parser.error(f"--threads: must be in 1..64, got {args.threads}")
    cores = len(os.sched_getaffinity(0))
    for flag, value in (("--jobs", args.jobs), ("--peer-jobs", args.peer_jobs)):
        if not 0 <= value <= 256:
            parser.error(f"{flag}: must be in 0..256, got {value}")
    parallel = Parallelism(args.jobs or cores, args.peer_jobs or cores, args.threads, args.plot)
    if args.holdout_from_bundle == bool(args.paths) or (args.holdout_from_bundle and args.labels):
        parser.error("give either PATHS (with --labels CSV to score them) or --holdout-from-bundle")
    bundle = Path(args.model) if args.model else default_bundle_path()
    try:
        if not bundle.is_file():
            raise BundleError(
                f"{bundle}: no such model bundle (the default model is not trained yet? pass --model BUNDLE)"
            )
        if args.holdout_from_bundle:
            files, target_va = holdout_from_card(load_bundle(bundle, "cpu").card, str(bundle))
            labels = f"held-out clips of {bundle.name}"
        else:
            files = find_audio(args.paths)
            target_va = read_labels(args.labels, files) if args.labels else None
            labels = str(args.labels)
            if target_va is not None and np.isnan(target_va).any(axis=1).all():
                raise DatasetError(
                    f"{args.labels}: labels none of the {len(files)} file(s) (rows are matched by file stem)"
                )
        with tempfile.TemporaryDirectory(prefix="damer-peers-") as workdir:
            numbers = compare(files, bundle, parallel, target_va, labels, Path(workdir))
    except DamerError as exc:
        print(f"bench.peers: error: {exc}", file=sys.stderr)
        return 2
    print(format_table(numbers))
    if args.json:
        args.json.write_text(json.dumps(_json_safe(numbers), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

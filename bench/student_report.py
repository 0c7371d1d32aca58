"""The student against its teacher: fidelity, what a linear probe learns from each, and their cost.

Three parts, all in one run:

1. **Fidelity** on the student recipe's held-out clips (a tenth of each source's tracks or artists, never
   used in distillation), whole clips streamed from their start: mean cosine similarity and R² of the
   student's embedding against musicnn's (the window ending at the same frame), per source.
2. **Linear probe** in the folds of ``damer cv`` (artist-grouped, stratified, seeds ``0 .. repeats-1``) on
   the labelled source (4Q): each clip's embedding stream pooled by mean and max over the clip (400 values),
   then the logistic regressions of :mod:`train.baselines` (C by an inner grouped CV on the fold's training
   clips), for the teacher's view (musicnn, aligned as the live view gives it) and for the student's.
3. **Cost** per second of audio: FLOPs (``torch.utils.flop_counter``) and CPU time of the musicnn view
   (its own 16 kHz log-Mel, then MSD_musicnn run incrementally, as live) and of the student (over the
   front-end's log-Mel frames, computed anyway), timed in alternation on the same 30 s of audio, one thread.

    python -m bench.student_report [--recipe configs/train/student.yaml] [--weights PATH] [--folds 5]
                                   [--repeats 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.report import machine_line, write_json
from damer_core.features.mel import log_mel
from damer_core.features.musicnn_view import MusicnnViewStream
from damer_core.student.network import MusicnnStudent
from damer_core.student.weights import load_student, shipped_student_path
from train.baselines import baseline_predictions
from train.cv import make_folds, score, summarise
from train.student import Audio, fidelity, load_student_recipe, read_audio, target_stats

MEASURES = ("valence", "arousal", "quadrant")


def pooled(stream: np.ndarray) -> np.ndarray:
    """Mean and max over a clip's frames of an embedding stream ``(T, d)`` -> ``(2 d,)``."""
    return np.concatenate((stream.mean(0), stream.max(0)))


def student_streams(student: MusicnnStudent, audio: Audio, indices: Sequence[int]) -> list[np.ndarray]:
    """The student's embedding of each clip in ``indices``, whole clips from their start."""
    with torch.inference_mode():
        return [student(torch.from_numpy(audio.mel[i].astype(np.float32))[None])[0].numpy() for i in indices]


def probe(audio: Audio, student: MusicnnStudent, source: str, folds: int, repeats: int) -> dict[str, Any]:
    """Linear probes of the pooled teacher and student embeddings in the same folds (see the docstring)."""
    indices = [i for i, clip in enumerate(audio.clips) if clip.source == source and not np.isnan(clip.arousal)]
    clips = [audio.clips[i] for i in indices]
    features = {
        "musicnn view (teacher)": np.stack([pooled(audio.teacher[i].astype(np.float32)) for i in indices]),
        "student view": np.stack([pooled(stream) for stream in student_streams(student, audio, indices)]),
    }
    results = {}
    for name, x in features.items():
        per_fold = []
        for fold in make_folds(clips, folds, repeats):
            predicted = baseline_predictions(x.astype(np.float64), clips, ~fold.held_out, seed=fold.repeat)
            held = [clip for clip, out in zip(clips, fold.held_out, strict=True) if out]
            per_fold.append(score(held, predicted["high"], predicted["quadrant"]))
        results[name] = {"per_fold": per_fold, "summary": summarise(per_fold)}
    difference = [
        {k: s[k] - t[k] for k in s}
        for s, t in zip(results["student view"]["per_fold"], results["musicnn view (teacher)"]["per_fold"], strict=True)
    ]
    results["student - teacher"] = {"per_fold": difference, "summary": summarise(difference)}
    return results


def cost(student: MusicnnStudent, seconds: float, rounds: int) -> dict[str, dict[str, float]]:
    """FLOPs and CPU milliseconds per second of audio of the musicnn view and of the student."""
    from damer_core.spec import FeatureSpec, MusicnnViewSpec

    torch.set_num_threads(1)
    spec = FeatureSpec(musicnn=MusicnnViewSpec(variant="aligned"))
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(int(seconds * spec.sample_rate))).astype(np.float32)
    mel = torch.from_numpy(log_mel(audio, spec))[None]

    def teacher() -> object:
        return MusicnnViewStream(spec).push(audio)

    def learner() -> object:
        with torch.inference_mode():
            return student(mel)

    runs = {"musicnn view": teacher, "student view": learner}
    flops = {}
    for name, run in runs.items():
        with FlopCounterMode(display=False) as counter:
            run()
        flops[name] = counter.get_total_flops()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.thread_time()
            run()
            times[name].append(time.thread_time() - start)
    return {
        name: {
            "mflop_per_audio_s": flops[name] / 1e6 / seconds,
            "cpu_ms_per_audio_s": 1e3 * float(np.median(times[name])) / seconds,
        }
        for name in runs
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.student_report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", type=Path, default=Path("configs/train/student.yaml"), help="student recipe")
    parser.add_argument("--weights", type=Path, default=None, help="student weights (default: the shipped ones)")
    parser.add_argument("--data-root", help="the recipe's data root (default: $DAMER_DATA, else ./data)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0, help="audio timed for the cost (default 30)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds (default 5)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    recipe = load_student_recipe(args.recipe, args.data_root)
    student, card = load_student(args.weights or shipped_student_path())
    audio = read_audio(recipe)
    frame_rate = recipe.teacher.frame_rate
    lead = round(card.get("lead_s", recipe.lead_s) * frame_rate)
    stats = target_stats(audio, audio.train)
    report: dict[str, Any] = {"fidelity": {}, "machine": machine_line()}
    print(f"fidelity on held-out clips (never distilled on), whole clips, teacher {lead / frame_rate:.2f} s ahead")
    for source in sorted({clip.source for clip in audio.clips}):
        held = [i for i in audio.held_out if audio.clips[i].source == source]
        report["fidelity"][source] = {"clips": len(held), **fidelity(student, audio, held, lead, stats)}
        row = report["fidelity"][source]
        print(f"  {source:<12} {row['clips']:>4} clips  cosine {row['cosine']:.3f}  R2 {row['r2']:.3f}")
    labelled = sorted({c.source for c in audio.clips if c.source == "4q"})
    if labelled:
        report["probe"] = probe(audio, student, labelled[0], args.folds, args.repeats)
        n = args.folds * args.repeats
        print(
            f"linear probe of the clip-pooled embedding, {args.folds} folds x {args.repeats} by artist (mean ± sd, {n})"
        )
        for name, result in report["probe"].items():
            summary = result["summary"]
            signed = name == "student - teacher"
            cells = [
                f"{summary[f'{m}.accuracy']['mean']:{'+' if signed else ''}.3f} ± {summary[f'{m}.accuracy']['sd']:.3f}"
                for m in MEASURES
            ]
            print(f"  {name:<26}" + "".join(f"{c:>18}" for c in cells))
    report["cost"] = cost(student, args.seconds, args.rounds)
    teacher, learner = report["cost"]["musicnn view"], report["cost"]["student view"]
    print("cost per second of audio (one thread, alternating runs)")
    for name, row in report["cost"].items():
        print(f"  {name:<14} {row['mflop_per_audio_s']:>8.1f} MFLOP  {row['cpu_ms_per_audio_s']:>7.2f} ms CPU")
    print(
        f"  student / musicnn: {learner['mflop_per_audio_s'] / teacher['mflop_per_audio_s']:.3f} of the FLOPs, "
        f"{learner['cpu_ms_per_audio_s'] / teacher['cpu_ms_per_audio_s']:.3f} of the CPU time"
    )
    print(f"machine: {report['machine']}")
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Clip-level scores of ``damer analyze`` on held-out clips: the live engine path, file in, numbers out.

Runs ``damer analyze`` (one process, fast pace, the model's own settings) over the clips of a training
recipe's test split (``--split test``, default) or validation split, reads each file's CSV (one row per
update: ``time,valence,arousal,p_high_valence,p_high_arousal``) and takes the clip's value as the mean of
its streamed outputs: over the whole clip, and over the updates of the first 5 s and 10 s of audio (what a
live listener has by then). High/low decisions are ``mean p(high) > 0.5``; the quadrant follows from the
two. Metrics are :func:`train.metrics.va_metrics` (accuracy, F1, AUC, RMSE, R², r, CCC per dimension;
quadrant accuracy and macro-F1).

Usage: ``python bench/analyze_eval.py RECIPE --model BUNDLE --out DIR [--split test] [--json PATH]``.
The JSON holds the report (``whole``, ``first_5s``, ``first_10s``) and each clip's predictions.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from train.data import read_corpus
from train.evaluate import HORIZONS_S, horizon_key, strict_json
from train.metrics import va_metrics
from train.recipe import load_recipe


def clip_values(csv_path: Path, horizon_s: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(valence, arousal)`` and mean ``(p_high_valence, p_high_arousal)`` of the updates of a
    ``damer analyze`` CSV whose time is at most ``horizon_s`` (``None``: all; at least the first update)."""
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if horizon_s is not None:
        rows = [row for i, row in enumerate(rows) if i == 0 or float(row["time"]) <= horizon_s + 1e-9]
    va = np.array([[float(row["valence"]), float(row["arousal"])] for row in rows])
    p_high = np.array([[float(row["p_high_valence"]), float(row["p_high_arousal"])] for row in rows])
    return va.mean(axis=0), p_high.mean(axis=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", type=Path, help="training recipe whose split is scored")
    parser.add_argument("--model", required=True, help="model bundle (or 'default')")
    parser.add_argument("--out", required=True, type=Path, help="folder for damer analyze's outputs")
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--json", type=Path, help="write the report and per-clip predictions here")
    args = parser.parse_args(argv)

    recipe = load_recipe(args.recipe)
    corpus = read_corpus(recipe)
    indices = corpus.test if args.split == "test" else corpus.validation
    clips = [corpus.clips[i] for i in indices if not math.isnan(corpus.clips[i].valence)]
    if not clips:
        parser.error(f"the recipe has no labelled {args.split} clips")
    stems = [f"{clip.source}_{clip.track_id}".replace("/", "_") for clip in clips]
    args.out.mkdir(parents=True, exist_ok=True)
    missing = [
        (clip, stem) for clip, stem in zip(clips, stems, strict=True) if not (args.out / f"{stem}.csv").is_file()
    ]
    for clip, stem in missing:  # analyze names outputs by the file's stem: link each file under a unique stem
        link = args.out / "inputs" / f"{stem}{clip.audio_path.suffix}"
        link.parent.mkdir(exist_ok=True)
        if not link.exists():
            link.symlink_to(clip.audio_path.resolve())
    if missing:
        files = [str(args.out / "inputs" / f"{stem}{clip.audio_path.suffix}") for clip, stem in missing]
        command = [
            str(Path(sys.executable).with_name("damer")),
            "analyze",
            *files,
            "--out",
            str(args.out),
            "--model",
            args.model,
        ]
        subprocess.run(command, check=True)
    targets = np.array([[clip.valence, clip.arousal] for clip in clips])
    report, per_clip = {"n_clips": len(clips), "split": args.split, "model": args.model}, []
    for horizon in (None, *HORIZONS_S):
        values = [clip_values(args.out / f"{stem}.csv", horizon) for stem in stems]
        va, p_high = np.array([v for v, _ in values]), np.array([p for _, p in values])
        report["whole" if horizon is None else horizon_key(horizon)] = va_metrics(targets, va, p_high)
        if horizon is None:
            per_clip = [
                {"track": clip.track_id, "target": clip_target.tolist(), "va": v.tolist(), "p_high": p.tolist()}
                for clip, clip_target, v, p in zip(clips, targets, va, p_high, strict=True)
            ]
    print(f"{len(clips)} {args.split} clips through damer analyze ({args.model})")
    for name in ("whole", *(horizon_key(h) for h in HORIZONS_S)):
        part = report[name]
        print(
            f"{name:10s} V acc {part['valence']['accuracy']:.3f} f1 {part['valence']['f1']:.3f} | "
            f"A acc {part['arousal']['accuracy']:.3f} f1 {part['arousal']['f1']:.3f} | "
            f"Q acc {part['quadrant']['accuracy']:.3f} macro-F1 {part['quadrant']['macro_f1']:.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps(strict_json({"report": report, "clips": per_clip}), indent=1, allow_nan=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

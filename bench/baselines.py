"""Baselines in artist-grouped cross-validation: logistic regression on frozen clip-level features.

The same folds as ``damer cv`` (:mod:`train.cv`: the recipe's test source cut into ``--folds`` folds by
artist, ``--repeats`` times with seeds 0, 1, ...), the same regressions (:mod:`train.baselines`: features
standardised on each fold's training clips, ``C`` chosen by an inner grouped CV on them), nothing trained
but the regressions. ``damer cv RECIPE`` prints these rows beside the model's, with the paired margins.

Usage: ``python -m bench.baselines RECIPE [--folds 5] [--repeats 1] [--features musicnn handcrafted]
[--json PATH]`` (the hand-crafted rows need librosa, from the ``peers`` extra).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from bench.report import machine_line, write_json
from damer_core.errors import DamerError
from train.baselines import FEATURE_SETS, available_feature_sets
from train.cv import format_table, run_cv
from train.recipe import load_recipe


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines", description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", type=Path, help="training recipe whose test source is cross-validated")
    parser.add_argument("--folds", type=int, default=5, help="folds per repeat (default 5)")
    parser.add_argument("--repeats", type=int, default=1, help="repeats with other partitions (default 1)")
    parser.add_argument("--features", nargs="+", choices=FEATURE_SETS, default=list(FEATURE_SETS))
    parser.add_argument("--cache", type=Path, default=Path(".cache/damer-baselines"), help="per-clip feature cache")
    parser.add_argument("--data-root", help="the recipe's data root (default: $DAMER_DATA, else ./data)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    feature_sets, notes = available_feature_sets(args.features)
    for note in notes:
        print(note)
    try:
        recipe = load_recipe(args.recipe, args.data_root)
        with tempfile.TemporaryDirectory() as scratch:
            report = run_cv(
                recipe, Path(scratch), args.folds, args.repeats, None, feature_sets, args.cache, model=False
            )
    except DamerError as exc:
        parser.error(str(exc))
    print(format_table(report))
    print(f"machine: {machine_line()}")
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``damer cv RECIPE --out DIR``: artist-grouped cross-validation of a recipe beside the baselines.

See :mod:`train.cv`. Example (5 folds, 2 repeats, a shorter schedule, both baseline feature sets)::

    damer cv configs/train/default.yaml --out runs/cv --folds 5 --repeats 2 --steps 600
"""

from __future__ import annotations

import argparse

from train.commands.options import add_data_root_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cv`` sub-command."""
    parser = subparsers.add_parser(
        "cv",
        help="cross-validate a recipe by artist, beside logistic-regression baselines in the same folds",
        description=(
            "Train the recipe once per fold of an artist-grouped K-fold partition of its labelled clips, score "
            "each fold's model on the artists it never met, and compare with baselines fit in the same folds."
        ),
    )
    parser.add_argument("recipe", metavar="RECIPE", help="training recipe (YAML, see configs/train/)")
    parser.add_argument("--out", required=True, metavar="DIR", help="one sub-folder per fold, and cv.json")
    parser.add_argument("--folds", type=int, default=5, help="folds per repeat (default 5)")
    parser.add_argument("--repeats", type=int, default=1, help="repeats with other partitions (default 1)")
    parser.add_argument("--source", metavar="NAME", help="labelled source to fold (default: the recipe's test source)")
    parser.add_argument(
        "--steps", type=int, metavar="N", help="train each fold for N steps, the schedules scaled alike (see ablate)"
    )
    parser.add_argument(
        "--baselines",
        nargs="*",
        default=["musicnn", "handcrafted"],
        metavar="SET",
        help="baseline feature sets fit in the same folds: musicnn, handcrafted (default both; none: no baselines)",
    )
    parser.add_argument("--baselines-only", action="store_true", help="score the baselines alone, train nothing")
    parser.add_argument("--baseline-cache", default=".cache/damer-baselines", metavar="DIR", help="their features")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_data_root_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the cross-validation and print its table."""
    from pathlib import Path

    from damer_core.errors import ConfigError
    from train.ablate import shortened
    from train.baselines import FEATURE_SETS, available_feature_sets
    from train.cv import format_table, run_cv
    from train.recipe import load_recipe

    unknown = sorted(set(args.baselines) - set(FEATURE_SETS))
    if unknown:
        raise ConfigError(
            f"--baselines: unknown feature set(s) {', '.join(unknown)} (known: {', '.join(FEATURE_SETS)})"
        )
    recipe = load_recipe(args.recipe, args.data_root)
    if args.steps is not None:
        recipe = shortened(recipe, args.steps)
    feature_sets, notes = available_feature_sets(args.baselines)
    for note in notes:
        print(note)
    report = run_cv(
        recipe,
        Path(args.out),
        args.folds,
        args.repeats,
        args.source,
        feature_sets,
        Path(args.baseline_cache),
        model=not args.baselines_only,
        progress=not args.no_progress,
    )
    print(format_table(report))
    return 0

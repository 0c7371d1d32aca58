"""``damer train RECIPE --out DIR``: train a model from a recipe and write it as a bundle.

Resumes from ``DIR/checkpoint.pt`` when it exists (``--restart`` ignores it). For several processes (GPUs,
or CPU processes on the gloo backend) launch it with ``torchrun``::

    torchrun --standalone --nproc_per_node 4 --no-python damer train configs/train/4q.yaml --out runs/4q
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from train.commands.options import add_data_root_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command."""
    parser = subparsers.add_parser(
        "train",
        help="train a model from a recipe (configs/train/*.yaml) and export a bundle",
        description="Train a DAMER model from a training recipe and write the best weights as a model bundle.",
    )
    parser.add_argument("recipe", metavar="RECIPE", help="training recipe (YAML, see configs/train/)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder: checkpoint, history, bundle")
    parser.add_argument("--restart", action="store_true", help="start over even if DIR holds a checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--cv-report",
        metavar="CV_JSON",
        help="the cv.json of 'damer cv' for this recipe: its figures go into the bundle's model card",
    )
    add_data_root_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train; the first process prints where the bundle went and its validation score."""
    # Imported here so that building the parser stays fast for every other sub-command.
    from train.cv import card_entry, read_cv_report
    from train.loop import train
    from train.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.data_root)
    card_extra = {}
    if args.cv_report is not None:
        card_extra["cross_validation"] = card_entry(read_cv_report(Path(args.cv_report)))
    out = Path(args.out)
    created = not out.exists()
    try:
        result = train(recipe, out, progress=not args.no_progress, restart=args.restart, card_extra=card_extra)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # a run that failed before writing anything leaves nothing behind
        raise
    score = "no validation" if result.best_score is None else f"{recipe.early_stopping.metric} {result.best_score:.4f}"
    ending = "stopped early" if result.stopped_early else "finished"
    if os.environ.get("RANK", "0") != "0":
        return 0
    print(
        f"{ending} after {result.steps}/{result.total_steps} steps ({result.seconds:.0f} s); "
        f"exported step {result.best_step} ({score}) -> {result.bundle}"
    )
    return 0

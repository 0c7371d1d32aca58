"""``damer ablate RECIPE --out DIR``: train the recipe with DSAF, PCL and SAML switched off one at a time
(and with one view only) and print the table of validation metrics (see :mod:`train.ablate`)."""

from __future__ import annotations

import argparse

from train.commands.options import add_data_root_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``ablate`` sub-command."""
    parser = subparsers.add_parser(
        "ablate",
        help="train ablations of a recipe (no DSAF, no PCL, no SAML, one view) and print the table",
        description="Train a recipe's ablation variants one after another and compare them on its validation split.",
    )
    parser.add_argument("recipe", metavar="RECIPE", help="training recipe (YAML) with a validation split")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="one sub-folder per variant, plus ablation.json/.md"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="VARIANT",
        help="variants to run (default: full, no_dsaf, no_pcl, no_saml, mel_only, cochleagram_only, and for a "
        "recipe with the musicnn view and distillation no_distill, no_musicnn_view, musicnn_only)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="train every variant for N steps instead of the recipe's, its schedules scaled alike (a shorter study)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_data_root_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the study and print its table."""
    from train.ablate import applicable_variants, format_markdown, run_ablation, shortened
    from train.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.data_root)
    if args.steps is not None:
        recipe = shortened(recipe, args.steps)
    rows = run_ablation(recipe, args.out, args.only or applicable_variants(recipe), progress=not args.no_progress)
    print(format_markdown(rows))
    return 0

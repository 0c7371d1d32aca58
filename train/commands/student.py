"""``damer student RECIPE --out DIR``: distil musicnn into its causal student (see :mod:`train.student`).

The student's weights go to ``DIR/student.safetensors``, its card (data, steps, fidelity on held-out music)
to ``DIR/student.json``. Shipping it: copy the weights to ``damer_core/models/musicnn_student.safetensors``
and name their SHA-256 (printed) in a recipe's ``features.musicnn.student_sha256`` with ``encoder: student``.
"""

from __future__ import annotations

import argparse

from train.commands.options import add_data_root_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``student`` sub-command."""
    parser = subparsers.add_parser(
        "student",
        help="distil musicnn into a small causal student over the front-end's log-Mel (configs/train/student.yaml)",
        description="Train the causal student of musicnn's embedding from a student recipe and write its weights.",
    )
    parser.add_argument("recipe", metavar="RECIPE", help="student recipe (YAML, see configs/train/student.yaml)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder: student.safetensors, student.json")
    add_data_root_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train the student; print its fidelity and its weights' SHA-256."""
    from pathlib import Path

    from train.student import load_student_recipe, train_student

    recipe = load_student_recipe(args.recipe, args.data_root)
    card = train_student(recipe, Path(args.out))
    held = card["held_out"]
    print(
        f"student: {card['train_hours']:.1f} h of audio, {card['steps']} steps; on {card['held_out_clips']} held-out "
        f"clips cosine {held['cosine']:.3f}, R2 {held['r2']:.3f}; SHA-256 {card['sha256']} -> {args.out}"
    )
    return 0

"""Flags shared by the training commands."""

from __future__ import annotations

import argparse


def add_data_root_argument(parser: argparse.ArgumentParser) -> None:
    """``--data-root DIR``: where a recipe's relative dataset paths are taken from."""
    parser.add_argument(
        "--data-root",
        metavar="DIR",
        help="folder the recipe's relative dataset paths are taken from (default: $DAMER_DATA, else ./data)",
    )

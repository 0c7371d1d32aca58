"""``damer models``: the model bundles shipped with damer, by name, with the key figures of their cards.

Reads each bundle's metadata only (no model is built), so it answers at once. ``--model NAME`` of
``damer stream`` and ``damer analyze`` takes these names.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from damer_core.errors import BundleError
from damer_core.shipped import DEFAULT_MODEL, shipped_model_names, shipped_model_path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` sub-command."""
    parser = subparsers.add_parser(
        "models",
        help="list the shipped model bundles with the key figures of their model cards",
        description="List the model bundles shipped with damer (pick one with --model NAME).",
    )
    parser.add_argument("--json", action="store_true", help="print the cards' key figures as JSON")
    parser.set_defaults(run=run)


def card_of(path: Path) -> dict[str, Any]:
    """The model card, model config and feature spec recorded in a bundle's metadata.

    Raises:
        BundleError: the file cannot be read as a bundle.
    """
    import safetensors

    try:
        with safetensors.safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
        return {
            key: json.loads(metadata[f"model_{key}" if key != "spec" else "feature_spec"])
            for key in ("card", "config", "spec")
        }
    except (OSError, KeyError, json.JSONDecodeError, safetensors.SafetensorError) as exc:
        raise BundleError(f"{path}: cannot read its model card ({exc})") from None


def key_figures(name: str, path: Path) -> dict[str, Any]:
    """Name, file, size, views, what computes the pretrained view, training data and cross-validated accuracy."""
    recorded = card_of(path)
    card, config, spec = recorded["card"], recorded["config"], recorded["spec"]
    musicnn = spec.get("musicnn")
    figures: dict[str, Any] = {
        "name": name,
        "default": name == DEFAULT_MODEL,
        "path": str(path),
        "megabytes": round(path.stat().st_size / 2**20, 2),
        "views": config["views"],
        "pretrained_view": None if musicnn is None else musicnn.get("encoder", "musicnn"),
        "training_data": card.get("training_data", "not recorded"),
        "created": card.get("created"),
    }
    cv = card.get("cross_validation")
    if cv:
        figures["cross_validation"] = {
            "folds": cv["folds"],
            "repeats": cv["repeats"],
            **{m: cv["summary"][f"{m}.accuracy"] for m in ("valence", "arousal", "quadrant")},
        }
    return figures


def run(args: argparse.Namespace) -> int:
    """Print one block per shipped bundle."""
    names = shipped_model_names()
    if not names:
        print(f"no model bundles are shipped with this copy (looked in {shipped_model_path().parent})")
        return 0
    rows = [key_figures(name, shipped_model_path(name)) for name in names]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        view = {"student": "musicnn's student (no musicnn at run time)", "musicnn": "MSD_musicnn itself", None: "none"}
        print(f"{row['name']}{' (default)' if row['default'] else ''}: {row['path']} ({row['megabytes']} MB)")
        print(f"  views: {', '.join(row['views'])}; pretrained view computed by {view[row['pretrained_view']]}")
        print(f"  trained on: {row['training_data']}")
        cv = row.get("cross_validation")
        if cv:
            cells = ", ".join(
                f"{m} {cv[m]['mean']:.3f} ± {cv[m]['sd']:.3f}" for m in ("valence", "arousal", "quadrant")
            )
            print(f"  accuracy on unseen artists ({cv['folds']}-fold x {cv['repeats']} by artist): {cells}")
    print("pick one with --model NAME (damer stream, damer analyze), or --model PATH for a bundle of your own")
    return 0

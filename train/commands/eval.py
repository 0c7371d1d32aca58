"""``damer eval BUNDLE --data RECIPE_OR_DATASET --json PATH``: clip-level metrics of a model bundle.

``--data`` is either a training recipe (YAML; its validation split is scored, its test split with ``--split test``,
or every clip with ``--split all``) or a dataset: a folder in one of the readers' formats (recognised by its files;
``--kind`` to name the reader) or a ``labels.csv`` table in the project's own format. Every clip is scored by
:func:`train.evaluate.evaluate_clips`: the model over the whole clip, per-token outputs averaged; also from the
first 5 s and 10 s only.

The JSON file holds ``valence`` and ``arousal`` (each ``n``, ``rmse``, ``r2``, ``pearson``, ``ccc``,
``accuracy``, ``f1``, ``auc``), ``quadrant`` (``n``, ``accuracy``, ``macro_f1``), ``first_5s`` and
``first_10s`` in the same form, ``by_source`` with several sources, ``n_clips``, ``bundle`` and ``data``.
Undefined values are ``null`` (strict JSON, no NaN).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from train.commands.options import add_data_root_argument

DEFAULT_CACHE = ".cache/damer-features"
# File (or folder) names that identify each reader's format, checked in this order.
SIGNATURES = (
    ("4q", "panda_dataset_taffc_metadata.csv"),
    ("memo2496", "mel_spec.npy"),
    ("deam", "static_annotations_averaged_songs_1_2000.csv"),
    ("emomusic", "valence_cont_average.csv"),
    ("pmemo", "dynamic_annotations.csv"),
    ("csv", "labels.csv"),
)


def detect_dataset(path: Path) -> tuple[str, Path]:
    """``(reader kind, path to give it)`` of a dataset folder or a ``.csv`` table.

    Raises:
        ConfigError: nothing below ``path`` identifies a labelled dataset format.
    """
    from damer_core.errors import ConfigError

    if path.is_file() and path.suffix.lower() == ".csv":
        return "csv", path
    if not path.is_dir():
        raise ConfigError(f"--data {path}: not a recipe, a dataset folder or a .csv table")
    for kind, name in SIGNATURES:
        found = sorted(path.rglob(name))
        if found:
            return kind, (found[0] if kind == "csv" else path)
    names = ", ".join(name for _, name in SIGNATURES)
    raise ConfigError(f"--data {path}: no labelled dataset recognised (looked for {names}); name it with --kind")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` sub-command."""
    parser = subparsers.add_parser(
        "eval",
        help="score a model bundle on labelled data (clip level: high/low accuracy, F1, RMSE, R2, r, CCC)",
        description="Score a model bundle on a recipe's validation split or on a labelled dataset.",
    )
    parser.add_argument("bundle", metavar="BUNDLE", help="model bundle (.safetensors)")
    parser.add_argument(
        "--data", required=True, metavar="RECIPE_OR_DATASET", help="training recipe, dataset folder or labels.csv"
    )
    parser.add_argument("--json", metavar="PATH", help="write the metrics here (strict JSON)")
    parser.add_argument("--kind", help="reader of a dataset folder (default: recognised from its files)")
    parser.add_argument(
        "--split", choices=("validation", "test", "all"), default="validation", help="with a recipe: which clips"
    )
    parser.add_argument("--cache", metavar="DIR", help=f"feature cache (default: the recipe's, else {DEFAULT_CACHE})")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="compute device")
    add_data_root_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate; print a table; write the JSON."""
    import json
    import math

    from tqdm import tqdm

    from damer_core.atomic import write_atomically
    from damer_core.bundle import load_bundle
    from damer_core.errors import ConfigError
    from train.data import FeatureStore, check_source_spec, read_corpus
    from train.datasets import read_dataset
    from train.evaluate import evaluate_clips, strict_json
    from train.recipe import SourceConfig, load_recipe

    bundle = load_bundle(args.bundle, args.device)
    data = Path(args.data)
    if data.suffix.lower() in (".yaml", ".yml"):
        recipe = load_recipe(data, args.data_root)
        corpus = read_corpus(recipe, bundle.spec)
        splits = {"validation": corpus.validation, "test": corpus.test}
        indices = list(splits[args.split]) if args.split in splits else list(range(len(corpus.clips)))
        if not indices:
            raise ConfigError(
                f"{data}: the recipe has no {args.split} split (data.{args.split}.source); use --split all"
            )
        clips = [corpus.clips[i] for i in indices]
        cache_dir = args.cache or recipe.cache_dir
    else:
        kind, path = (args.kind, data) if args.kind else detect_dataset(data)
        clips = read_dataset(kind, path)
        check_source_spec(SourceConfig(kind=kind, path=str(path)), clips, bundle.spec)
        cache_dir = args.cache or DEFAULT_CACHE
    clips = [clip for clip in clips if not (math.isnan(clip.valence) and math.isnan(clip.arousal))]
    if not clips:
        raise ConfigError(f"--data {data}: no labelled clips to score")
    store = FeatureStore(clips, bundle.spec, cache_dir)
    with tqdm(total=len(clips), desc="features", unit="clip", leave=False) as bar:
        store.prepare(range(len(clips)), progress=lambda done, total: bar.update(done - bar.n))
    with tqdm(total=len(clips), desc="eval", unit="clip", leave=False) as bar:
        report = evaluate_clips(bundle.model, clips, store.features, progress=lambda done, total: bar.update(1))
    report = strict_json({**report, "bundle": str(bundle.path), "data": str(data)})
    print(format_table(report))
    if args.json:
        text = json.dumps(report, indent=2, allow_nan=False) + "\n"
        write_atomically(Path(args.json), lambda handle: handle.write(text.encode("utf-8")))
    return 0


def format_table(report: dict) -> str:
    """A plain-text table of a strict-JSON report: one row per dimension, then accuracy by horizon."""
    from train.evaluate import HORIZONS_S, horizon_key

    def cell(value: float | None) -> str:
        return "    n/a" if value is None else f"{value:7.3f}"

    lines = [
        f"{report['n_clips']} clips",
        f"{'':10}{'acc':>7}{'f1':>7}{'auc':>7}{'rmse':>7}{'r2':>7}{'r':>7}{'ccc':>7}",
    ]
    for dimension in ("valence", "arousal"):
        m = report[dimension]
        values = (m["accuracy"], m["f1"], m["auc"], m["rmse"], m["r2"], m["pearson"], m["ccc"])
        lines.append(f"{dimension:10}" + "".join(cell(v) for v in values))
    quadrant = report["quadrant"]
    lines.append(f"{'quadrant':10}{cell(quadrant['accuracy'])}   (macro F1 {cell(quadrant['macro_f1']).strip()})")

    def accuracies(part: dict) -> str:
        return " ".join(
            f"{name[0].upper()} {cell(part[name]['accuracy']).strip()}" for name in ("valence", "arousal", "quadrant")
        )

    horizons = ", ".join(f"{key}: {accuracies(report[key])}" for key in (horizon_key(h) for h in HORIZONS_S))
    lines.append(f"accuracy from the first seconds only: {horizons}")
    return "\n".join(lines)

"""Cross-validation by artist: how accurate a recipe is on artists it never met, beside the baselines.

``damer cv RECIPE --folds K --repeats R`` partitions the labelled clips of one source (by default the
recipe's test source, else its validation source: 4Q in the shipped recipes) into ``K`` folds by group
(artist or track; :func:`train.datasets.group_folds`, stratified by quadrant), ``R`` times with seeds
``0 .. R-1``. For every fold it trains the recipe with that fold as its test split (every other source
trains as the recipe says), so everything the run fits — input normalisation, PCL's teacher, SAML's
anchors, early stopping on a validation split when the recipe has one (split from the fold's *training*
artists), the weights — sees no clip of the fold's artists; then it scores the exported model on the fold:
clip value = mean of the model's per-update outputs (the offline forward pass, equal to the stream within
the tested tolerance), high when > 0, quadrant from the two signs — as ``damer analyze`` results are judged.
The baselines of :mod:`train.baselines` are fit and scored in the same folds (their regularisation chosen by
an inner grouped CV on the fold's training clips).

Reported per system: mean ± sd over the ``K × R`` folds of valence, arousal and quadrant accuracy (and
F1 / macro-F1), and the paired difference model − baseline per fold (mean ± sd): the honest estimate of the
margin on new artists. Results go to ``OUT/cv.json`` (and per fold ``OUT/r<repeat>/f<fold>/``); a run
interrupted and started again redoes only the folds without results.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from damer_core.atomic import write_atomically
from damer_core.bundle import load_bundle
from damer_core.errors import ConfigError
from train.baselines import ROWS, baseline_predictions, feature_matrices
from train.data import read_corpus, read_source
from train.datasets import Clip, group_folds
from train.evaluate import token_outputs
from train.loop import BUNDLE_NAME, train
from train.metrics import binary_accuracy, binary_f1, macro_f1, quadrant_of
from train.recipe import TrainRecipe, ValidationConfig

MEASURES = ("valence", "arousal", "quadrant")
MODEL = "damer"
PREDICTIONS_NAME = "predictions.json"


@dataclasses.dataclass(frozen=True)
class Fold:
    """One fold of one repeat: its seed (the repeat), index, and which clips of the source it holds out."""

    repeat: int
    index: int
    held_out: np.ndarray

    @property
    def name(self) -> str:
        return f"r{self.repeat}/f{self.index}"


def cv_source(recipe: TrainRecipe, name: str | None = None) -> str:
    """The labelled source to cross-validate on: ``name``, else the recipe's test, else validation source.

    Raises:
        ConfigError: no such labelled source, or the recipe names none.
    """
    labelled = [s.name for s in recipe.data.sources if s.role == "labelled"]
    chosen = name or recipe.data.test.source or recipe.data.validation.source
    if chosen is None:
        raise ConfigError("the recipe names no test or validation source: pass --source NAME")
    if chosen not in labelled:
        raise ConfigError(f"--source {chosen!r}: not a labelled source of the recipe ({', '.join(labelled)})")
    return chosen


def make_folds(clips: Sequence[Clip], folds: int, repeats: int) -> list[Fold]:
    """``folds`` folds for each of ``repeats`` seeds (see :func:`train.datasets.group_folds`)."""
    if repeats < 1:
        raise ConfigError(f"--repeats: must be >= 1, got {repeats}")
    result = []
    for repeat in range(repeats):
        fold_of = np.array(group_folds(clips, folds, repeat))
        result += [Fold(repeat, index, fold_of == index) for index in range(folds)]
    return result


def fold_recipe(recipe: TrainRecipe, source: str, folds: int, fold: Fold) -> TrainRecipe:
    """``recipe`` with ``fold`` of ``source`` as its test split. A validation split of the same source is
    taken from the fold's training clips; one of another source is kept as it is."""
    test = ValidationConfig(source=source, folds=folds, fold=fold.index, seed=fold.repeat)
    return dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, test=test))


def score(clips: Sequence[Clip], high: np.ndarray, quadrant: np.ndarray) -> dict[str, float]:
    """Accuracy and F1 of predicted high/low ``(n, 2)`` and quadrants ``(n,)`` against ``clips``' labels."""
    targets = np.array([(clip.valence, clip.arousal) for clip in clips])
    wanted = targets > 0
    scores = {}
    for column, name in enumerate(("valence", "arousal")):
        scores[f"{name}.accuracy"] = binary_accuracy(wanted[:, column], high[:, column])
        scores[f"{name}.f1"] = binary_f1(wanted[:, column], high[:, column])
    target_quadrant = quadrant_of(targets[:, 0], targets[:, 1])
    scores["quadrant.accuracy"] = float(np.mean(target_quadrant == quadrant))
    scores["quadrant.macro_f1"] = macro_f1(target_quadrant, quadrant)
    return scores


def model_predictions(recipe: TrainRecipe, bundle_path: Path) -> dict[str, Any]:
    """The fold's exported model on the fold's test clips: per clip the mean of the per-update valence,
    arousal and p(high), from the offline forward pass over each whole clip."""
    corpus = read_corpus(recipe)
    corpus.store.prepare([int(i) for i in corpus.test])
    bundle = load_bundle(bundle_path, device="cpu")
    keys, va, p_high = [], [], []
    with torch.inference_mode():
        for index in corpus.test:
            outputs, probabilities = token_outputs(bundle.model, corpus.store.features(int(index)))
            keys.append(corpus.clips[int(index)].key)
            va.append(outputs.mean(axis=0).tolist())
            p_high.append(probabilities.mean(axis=0).tolist())
    return {"keys": keys, "va": va, "p_high": p_high}


def run_fold(recipe: TrainRecipe, source: str, folds: int, fold: Fold, out: Path, progress: bool) -> dict[str, Any]:
    """Train (or resume) one fold into ``out`` and return its model's predictions (cached in ``out``)."""
    stored = out / PREDICTIONS_NAME
    if stored.is_file():
        return json.loads(stored.read_text(encoding="utf-8"))
    specific = fold_recipe(recipe, source, folds, fold)
    train(specific, out, progress=progress)
    predictions = model_predictions(specific, out / BUNDLE_NAME)
    text = json.dumps(predictions, indent=1, allow_nan=False)
    write_atomically(stored, lambda handle: handle.write(text.encode("utf-8")))
    return predictions


def summarise(per_fold: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """``{measure: {"mean", "sd"}}`` over folds (sd with ``n - 1``; 0 for a single fold)."""
    summary = {}
    for key in per_fold[0]:
        values = np.array([fold[key] for fold in per_fold], dtype=np.float64)
        values = values[~np.isnan(values)]
        sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
        summary[key] = {"mean": float(values.mean()) if values.size else math.nan, "sd": sd}
    return summary


def run_cv(
    recipe: TrainRecipe,
    out: Path,
    folds: int,
    repeats: int,
    source: str | None = None,
    feature_sets: Sequence[str] = (),
    baseline_cache: Path = Path(".cache/damer-baselines"),
    model: bool = True,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Cross-validate ``recipe`` (and the baselines of ``feature_sets``) and write ``out/cv.json``.

    Returns:
        ``{"source", "folds", "repeats", "n_clips", "systems": {name: {"title", "per_fold", "summary"}},
        "paired": {baseline: {"per_fold", "summary"}}}``: per-fold scores are dicts of
        ``"<valence|arousal|quadrant>.<accuracy|f1|macro_f1>"``.
    """
    name = cv_source(recipe, source)
    clips = read_source(next(s for s in recipe.data.sources if s.name == name))
    plan = make_folds(clips, folds, repeats)
    systems: dict[str, dict[str, Any]] = {}
    if model:
        systems[MODEL] = {"title": "damer (this recipe)", "per_fold": []}
        by_key = {clip.key: clip for clip in clips}
        for fold in plan:
            say(f"fold {fold.name}: training on {int((~fold.held_out).sum())} clips of {name!r} (+ other sources)")
            predictions = run_fold(recipe, name, folds, fold, out / fold.name, progress)
            held = [by_key[key] for key in predictions["keys"]]
            va = np.array(predictions["va"])
            high = va > 0
            quadrant = quadrant_of(va[:, 0], va[:, 1])
            systems[MODEL]["per_fold"].append(score(held, high, quadrant))
            say(f"fold {fold.name}: " + _line(systems[MODEL]["per_fold"][-1]))
    if feature_sets:
        matrices = feature_matrices(clips, feature_sets, baseline_cache)
        for key, x in matrices.items():
            systems[key] = {"title": ROWS[key][1], "per_fold": []}
            for fold in plan:
                predicted = baseline_predictions(x, clips, ~fold.held_out, seed=fold.repeat)
                held = [clip for clip, out_of_fold in zip(clips, fold.held_out, strict=True) if out_of_fold]
                systems[key]["per_fold"].append(score(held, predicted["high"], predicted["quadrant"]))
            say(f"{ROWS[key][1]}: " + _line(summarise(systems[key]["per_fold"]), mean=True))
    for system in systems.values():
        system["summary"] = summarise(system["per_fold"])
    paired = {}
    if MODEL in systems:
        mine = systems[MODEL]["per_fold"]
        for key, system in systems.items():
            if key != MODEL:
                differences = [{m: a[m] - b[m] for m in a} for a, b in zip(mine, system["per_fold"], strict=True)]
                paired[key] = {"per_fold": differences, "summary": summarise(differences)}
    report = {
        "source": name,
        "folds": folds,
        "repeats": repeats,
        "n_clips": len(clips),
        "n_groups": len({clip.group for clip in clips}),
        "steps": recipe.optim.steps,
        "systems": systems,
        "paired": paired,
    }
    text = json.dumps(report, indent=1, allow_nan=False)
    write_atomically(out / "cv.json", lambda handle: handle.write(text.encode("utf-8")))
    return report


def read_cv_report(path: Path) -> dict[str, Any]:
    """A ``cv.json`` written by :func:`run_cv` with the model's results.

    Raises:
        ConfigError: unreadable, not JSON, or without the model's results.
    """
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the cross-validation report ({exc})") from None
    if not isinstance(report, dict) or MODEL not in report.get("systems", {}):
        raise ConfigError(f"{path}: not a damer cv report with the model's results")
    return report


def card_entry(report: dict[str, Any]) -> dict[str, Any]:
    """What a model card records of a recipe's cross-validation (``damer train --cv-report``): the protocol,
    the model's mean ± sd per measure, each baseline's, and the paired margins over them."""
    return {
        "source": report["source"],
        "folds": report["folds"],
        "repeats": report["repeats"],
        "n_clips": report["n_clips"],
        "n_groups": report["n_groups"],
        "steps": report["steps"],
        "summary": report["systems"][MODEL]["summary"],
        "baselines": {
            key: {"title": system["title"], "summary": system["summary"]}
            for key, system in report["systems"].items()
            if key != MODEL
        },
        "paired": {key: pair["summary"] for key, pair in report["paired"].items()},
    }


def _line(scores: dict[str, Any], mean: bool = False) -> str:
    values = {m: scores[f"{m}.accuracy"]["mean"] if mean else scores[f"{m}.accuracy"] for m in MEASURES}
    return ", ".join(f"{m} {values[m]:.3f}" for m in MEASURES)


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table: systems (mean ± sd), then paired margins."""
    n = report["folds"] * report["repeats"]
    lines = [
        f"{report['n_clips']} clips by {report['n_groups']} artists of {report['source']!r}, "
        f"{report['folds']} folds x {report['repeats']} repeat(s) = {n} folds; mean ± sd over folds",
        f"{'system':<70}{'valence acc':>16}{'arousal acc':>16}{'quadrant acc':>16}",
    ]
    for system in report["systems"].values():
        summary = system["summary"]
        cells = [f"{summary[f'{m}.accuracy']['mean']:.3f} ± {summary[f'{m}.accuracy']['sd']:.3f}" for m in MEASURES]
        lines.append(f"{system['title']:<70}" + "".join(f"{c:>16}" for c in cells))
    if report["paired"]:
        lines.append(f"paired difference damer − baseline, per fold (mean ± sd over {n} folds)")
        for key, pair in report["paired"].items():
            summary = pair["summary"]
            cells = [
                f"{summary[f'{m}.accuracy']['mean']:+.3f} ± {summary[f'{m}.accuracy']['sd']:.3f}" for m in MEASURES
            ]
            lines.append(f"{'  vs ' + report['systems'][key]['title']:<70}" + "".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)

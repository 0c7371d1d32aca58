"""Ablation study: the recipe's model trained again with one module switched off at a time.

Variants (each a change to the recipe, everything else equal, same seed and data):

- ``full``: the recipe as given;
- ``no_dsaf``: ``model.fusion: concat`` (concatenation and a linear layer instead of bidirectional
  cross-attention and the gate);
- ``no_pcl``: ``pcl.enabled: false``;
- ``no_saml``: ``saml.enabled: false``;
- ``mel_only`` / ``cochleagram_only``: ``model.views`` with one view (no fusion at all);
- for a recipe with the musicnn view and distillation: ``no_distill`` (``distill.enabled: false``: musicnn
  as a view only), ``no_musicnn_view`` (``model.views: [mel, cochleagram]``: musicnn as a teacher only) and
  ``musicnn_only`` (``model.views: [musicnn]``).

Each variant trains into ``OUT/<variant>/`` (its full recipe in ``recipe.yaml``; an interrupted study
resumes variant by variant) and is scored by the exported weights' clip-level report on the recipe's test
split when it has one (each variant picks its weights on the validation split, never on the test clips),
else on its validation split. The table goes to standard output, ``OUT/ablation.json`` and
``OUT/ablation.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from damer_core.atomic import write_atomically
from damer_core.config import from_mapping, to_mapping
from damer_core.errors import ConfigError
from train.loop import TrainResult, train
from train.recipe import TrainRecipe

VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "no_dsaf": {"model": {"fusion": "concat"}},
    "no_pcl": {"pcl": {"enabled": False}},
    "no_saml": {"saml": {"enabled": False}},
    "mel_only": {"model": {"views": ["mel"]}},
    "cochleagram_only": {"model": {"views": ["cochleagram"]}},
    "no_distill": {"distill": {"enabled": False}},
    "no_musicnn_view": {"model": {"views": ["mel", "cochleagram"]}},
    "musicnn_only": {"model": {"views": ["musicnn"]}},
}
BASIC_VARIANTS = ("full", "no_dsaf", "no_pcl", "no_saml", "mel_only", "cochleagram_only")
MUSICNN_VARIANTS = ("no_distill", "no_musicnn_view", "musicnn_only")


def applicable_variants(recipe: TrainRecipe) -> tuple[str, ...]:
    """The variants that change something in ``recipe``: the basic ones, plus the musicnn ones when the
    recipe both reads the musicnn view and distils it."""
    musicnn = recipe.features.musicnn is not None and recipe.distill.enabled and "musicnn" in recipe.model.views
    return BASIC_VARIANTS + (MUSICNN_VARIANTS if musicnn else ())


COLUMNS = (
    ("V acc", ("valence", "accuracy")),
    ("A acc", ("arousal", "accuracy")),
    ("Q acc", ("quadrant", "accuracy")),
    ("V f1", ("valence", "f1")),
    ("A f1", ("arousal", "f1")),
    ("V ccc", ("valence", "ccc")),
    ("A ccc", ("arousal", "ccc")),
    ("Q acc 5s", ("first_5s", "quadrant", "accuracy")),
    ("Q acc 10s", ("first_10s", "quadrant", "accuracy")),
)


def _merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) else value
    return merged


STEP_FIELDS = (
    ("optim", "warmup_steps"),
    ("pcl", "start_step"),
    ("pcl", "ramp_steps"),
    ("saml", "start_step"),
    ("distill", "probe_start_step"),
    (None, "eval_every"),
    (None, "checkpoint_every"),
)
"""Recipe settings counted in training steps, which :func:`shortened` scales with the number of steps."""


def shortened(recipe: TrainRecipe, steps: int) -> TrainRecipe:
    """``recipe`` trained for ``steps`` steps, its schedules (warm-up, PCL and SAML start and ramp, probe start,
    validation and checkpoint intervals) scaled by the same factor, so that a shorter study switches every
    module on at the same fraction of training as the recipe does.

    Raises:
        ConfigError: ``steps`` < 1, or the recipe counts epochs instead of steps.
    """
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    if recipe.optim.steps is None:
        raise ConfigError("--steps needs a recipe that counts optim.steps, not optim.epochs")
    factor = steps / recipe.optim.steps
    mapping = to_mapping(recipe)
    mapping["optim"]["steps"] = steps
    for section, key in STEP_FIELDS:
        table = mapping if section is None else mapping[section]
        minimum = 0 if key in ("warmup_steps", "start_step", "probe_start_step") else 1
        table[key] = max(minimum, round(table[key] * factor))
    return from_mapping(TrainRecipe, mapping, where="--steps")


def variant_recipe(recipe: TrainRecipe, name: str) -> TrainRecipe:
    """``recipe`` with the change of variant ``name`` (a key of :data:`VARIANTS`)."""
    return from_mapping(TrainRecipe, _merge(to_mapping(recipe), VARIANTS[name]), where=f"ablation {name}")


def _value(report: dict[str, Any], path: Sequence[str]) -> float | None:
    for key in path:
        if not isinstance(report, dict) or key not in report:
            return None
        report = report[key]
    return report


def format_markdown(rows: list[dict[str, Any]]) -> str:
    """The study as a markdown table (one row per variant; ``split`` says which clips scored it)."""
    header = ["variant", "split", *(name for name, _ in COLUMNS), "steps", "seconds"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["variant"], row["split"]]
        cells += ["n/a" if row[name] is None else f"{row[name]:.3f}" for name, _ in COLUMNS]
        cells += [str(row["steps"]), f"{row['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_ablation(
    recipe: TrainRecipe,
    out_dir: str | Path,
    variants: Sequence[str] = BASIC_VARIANTS,
    progress: bool = True,
    trainer: Callable[..., TrainResult] = train,
) -> list[dict[str, Any]]:
    """Train every variant and tabulate their test (else validation) metrics (see the module docstring).

    Raises:
        ConfigError: the recipe has no validation split, or an unknown variant is named.
    """
    if recipe.data.validation.source is None:
        raise ConfigError("ablation: the recipe needs a validation split (data.validation.source)")
    unknown = [name for name in variants if name not in VARIANTS]
    if unknown:
        raise ConfigError(f"ablation: unknown variant {unknown[0]!r} (known: {', '.join(VARIANTS)})")
    out = Path(out_dir)
    rows = []
    for name in variants:
        result = trainer(variant_recipe(recipe, name), out / name, progress=progress)
        scored = result.report if result.test_report is None else result.test_report
        row: dict[str, Any] = {"variant": name, "split": "validation" if result.test_report is None else "test"}
        row.update({column: _value(scored, path) for column, path in COLUMNS})
        row.update(steps=result.steps, seconds=result.seconds, bundle=str(result.bundle), report=result.report)
        row["test_report"] = result.test_report
        rows.append(row)
    table = format_markdown(rows)
    text = json.dumps(rows, indent=1, allow_nan=False)
    write_atomically(out / "ablation.json", lambda handle: handle.write(text.encode("utf-8")))
    write_atomically(out / "ablation.md", lambda handle: handle.write((table + "\n").encode("utf-8")))
    return rows

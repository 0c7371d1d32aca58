"""Clip-level evaluation of a model, the way the engine would run it.

For each clip the model runs once offline over the clip's whole feature sequence (from its start, no
context before it: the same numbers the streaming engine produces for that audio, as the model's parity
tests guarantee), giving one output per token. The clip's prediction is the mean over its tokens of the
valence/arousal estimate and of p(high) = sigmoid(logit); the high/low decision is p(high) > 0.5. The same
is done over the tokens completed within the first 5 s and 10 s of audio (a token counts when its end time
``model.token_end_seconds(n)`` is at most the horizon; at least the first token), which tells how soon a
live listener gets a usable answer.

Metrics (:func:`train.metrics.va_metrics`): per dimension RMSE, R², Pearson r, CCC, accuracy, F1 and AUC of
the high/low task; 4-quadrant accuracy and macro-F1. Clips are whole tracks (or a dataset's clips), so no
track is on both sides of a split that is made by group.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from damer_core.model import DamerModel
from train.datasets import Clip, ClipFeatures
from train.metrics import va_metrics

HORIZONS_S = (5.0, 10.0)


def horizon_key(horizon_s: float) -> str:
    """Report key of a horizon, e.g. ``first_5s``."""
    return f"first_{horizon_s:g}s"


@torch.inference_mode()
def token_outputs(model: DamerModel, features: ClipFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Per-token ``(va (N, 2), p_high (N, 2))`` float64 of the offline forward pass over a whole clip; the
    model must be in eval mode."""
    mel = torch.from_numpy(features.mel).unsqueeze(0)
    coch = torch.from_numpy(features.coch).unsqueeze(0)
    musicnn = None if features.musicnn is None else torch.from_numpy(features.musicnn).unsqueeze(0)
    output = model(mel, coch, musicnn)
    va = output.va[0].double().cpu().numpy()
    p_high = torch.sigmoid(output.logits[0].double()).cpu().numpy()
    return va, p_high


def clip_summary(
    model: DamerModel, va: np.ndarray, p_high: np.ndarray, horizon_s: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``va`` and ``p_high`` ``(2,)`` over the tokens that end within ``horizon_s`` (``None``: all)."""
    n = va.shape[0]
    if horizon_s is not None:
        n = max(1, sum(1 for token in range(n) if model.token_end_seconds(token) <= horizon_s + 1e-9))
    return va[:n].mean(axis=0), p_high[:n].mean(axis=0)


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (for JSON without NaN)."""
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(item) for item in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def evaluate_clips(
    model: DamerModel,
    clips: Sequence[Clip],
    features: Callable[[int], ClipFeatures],
    horizons_s: Sequence[float] = HORIZONS_S,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Clip-level metrics of ``model`` (eval mode) on ``clips``.

    Args:
        model: the model, in eval mode.
        clips: the clips with their labels (unlabelled dimensions are left out of that dimension's metrics).
        features: ``features(i)`` gives the features of ``clips[i]``.
        horizons_s: also score predictions made from the first ``h`` seconds only.
        progress: called as ``progress(done, total)`` after each clip.

    Returns:
        ``{"n_clips", "valence", "arousal", "quadrant"}`` (whole clips, keys of
        :func:`train.metrics.va_metrics`) plus ``first_<h>s`` entries of the same form for each horizon, and
        ``by_source`` (whole-clip metrics per source) when the clips come from several sources. Undefined
        metrics are ``nan``.
    """
    if not clips:
        raise ValueError("no clips to evaluate")
    targets = np.array([[clip.valence, clip.arousal] for clip in clips], dtype=np.float64)
    keys: list[float | None] = [None, *horizons_s]
    predicted = {h: np.zeros((len(clips), 2)) for h in keys}
    p_high = {h: np.zeros((len(clips), 2)) for h in keys}
    for i in range(len(clips)):
        va, p = token_outputs(model, features(i))
        for h in keys:
            predicted[h][i], p_high[h][i] = clip_summary(model, va, p, h)
        if progress is not None:
            progress(i + 1, len(clips))
    report: dict[str, Any] = {"n_clips": len(clips), **va_metrics(targets, predicted[None], p_high[None])}
    for h in horizons_s:
        report[horizon_key(h)] = va_metrics(targets, predicted[h], p_high[h])
    sources = sorted({clip.source for clip in clips})
    if len(sources) > 1:
        report["by_source"] = {}
        for source in sources:
            rows = np.array([clip.source == source for clip in clips])
            report["by_source"][source] = {
                "n_clips": int(rows.sum()),
                **va_metrics(targets[rows], predicted[None][rows], p_high[None][rows]),
            }
    return report


def score_of(report: dict[str, Any], metric: str) -> float:
    """The value of ``"<dimension>.<metric>"`` in a whole-clip report; ``mean`` averages valence and arousal
    (``nan`` when a dimension's value is undefined)."""
    dimension, _, name = metric.partition(".")
    if dimension == "mean":
        return float(np.mean([report["valence"][name], report["arousal"][name]]))
    return float(report[dimension][name])

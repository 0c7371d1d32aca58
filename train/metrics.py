"""Evaluation metrics for valence/arousal in [-1, 1]; pure numpy, float64 arithmetic.

Regression (per dimension): RMSE, R², Pearson r, concordance correlation coefficient (CCC, Lin 1989, with
population moments). Classification (the high/low protocol): a value is "high" when strictly greater than
0 (a probability when greater than 0.5); accuracy, F1 of the "high" class and ROC AUC (Mann-Whitney
statistic with average ranks for ties). Quadrants: Q1 = +V+A, Q2 = -V+A, Q3 = -V-A, Q4 = +V-A; accuracy and
macro-F1 over the quadrants present in the targets or the predictions.

A metric that is undefined on the given data is returned as ``nan`` and nothing else is: Pearson r when
either side is constant, R² when the target is constant, CCC when both sides are the same constant, F1 when
neither side has a "high" item, AUC when the targets hold only one class.
"""

from __future__ import annotations

import math

import numpy as np

HIGH_THRESHOLD = 0.0
PROBABILITY_THRESHOLD = 0.5


def _pair(target: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64 after checking they are equal-length, non-empty, 1-D and finite."""
    t = np.asarray(target, dtype=np.float64)
    p = np.asarray(prediction, dtype=np.float64)
    if t.ndim != 1 or t.shape != p.shape or t.size == 0:
        raise ValueError(f"target {t.shape} and prediction {p.shape} must be equal, non-empty 1-D arrays")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValueError("metrics need finite targets and predictions (leave unlabelled items out first)")
    return t, p


def rmse(target: np.ndarray, prediction: np.ndarray) -> float:
    """Root mean squared error of ``prediction`` against ``target`` (shapes ``(n,)``)."""
    t, p = _pair(target, prediction)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def r2(target: np.ndarray, prediction: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``; ``nan`` for a constant target."""
    t, p = _pair(target, prediction)
    ss_tot = np.sum((t - t.mean()) ** 2)
    return float(1.0 - np.sum((t - p) ** 2) / ss_tot) if ss_tot > 0 else math.nan


def pearson(target: np.ndarray, prediction: np.ndarray) -> float:
    """Pearson correlation coefficient; ``nan`` when either side is constant."""
    t, p = _pair(target, prediction)
    dt, dp = t - t.mean(), p - p.mean()
    denominator = math.sqrt(np.sum(dt * dt) * np.sum(dp * dp))
    return float(np.sum(dt * dp) / denominator) if denominator > 0 else math.nan


def ccc(target: np.ndarray, prediction: np.ndarray) -> float:
    """Concordance correlation coefficient ``2 cov / (var_t + var_p + (mean_t - mean_p)^2)``, population
    moments; ``nan`` only when both sides are the same constant."""
    t, p = _pair(target, prediction)
    covariance = np.mean((t - t.mean()) * (p - p.mean()))
    denominator = t.var() + p.var() + (t.mean() - p.mean()) ** 2
    return float(2.0 * covariance / denominator) if denominator > 0 else math.nan


def _booleans(target_high: np.ndarray, predicted_high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(target_high)
    p = np.asarray(predicted_high)
    if t.dtype != np.bool_ or p.dtype != np.bool_ or t.ndim != 1 or t.shape != p.shape or t.size == 0:
        raise ValueError("target and predicted classes must be equal, non-empty 1-D boolean arrays")
    return t, p


def binary_accuracy(target_high: np.ndarray, predicted_high: np.ndarray) -> float:
    """Share of items whose predicted high/low class (boolean ``(n,)``) equals the target's."""
    t, p = _booleans(target_high, predicted_high)
    return float(np.mean(t == p))


def binary_f1(target_high: np.ndarray, predicted_high: np.ndarray) -> float:
    """F1 of the "high" class, ``2 TP / (2 TP + FP + FN)``; ``nan`` when neither side has a high item."""
    t, p = _booleans(target_high, predicted_high)
    tp = np.sum(t & p)
    denominator = 2 * tp + np.sum(~t & p) + np.sum(t & ~p)
    return float(2 * tp / denominator) if denominator > 0 else math.nan


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values`` (shape ``(n,)``), ties sharing the mean of their ranks."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def roc_auc(target_high: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` (higher = more likely high) for boolean ``target_high``; equal
    to the probability that a random high item outscores a random low one, ties counting one half. ``nan``
    when the targets hold only one class."""
    t = np.asarray(target_high)
    s = np.asarray(score, dtype=np.float64)
    if t.dtype != np.bool_ or t.ndim != 1 or s.shape != t.shape or t.size == 0:
        raise ValueError("target_high (boolean) and score must be equal, non-empty 1-D arrays")
    if not np.isfinite(s).all():
        raise ValueError("roc_auc needs finite scores")
    n_high = int(t.sum())
    n_low = t.size - n_high
    if n_high == 0 or n_low == 0:
        return math.nan
    rank_sum = average_ranks(s)[t].sum()
    return float((rank_sum - n_high * (n_high + 1) / 2.0) / (n_high * n_low))


def quadrant_of(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    """Russell quadrant (int 1..4) of each valence/arousal pair: Q1 = +V+A, Q2 = -V+A, Q3 = -V-A,
    Q4 = +V-A, with values <= 0 counted as negative. Shapes broadcast; returns int64."""
    high_v = np.asarray(valence) > HIGH_THRESHOLD
    high_a = np.asarray(arousal) > HIGH_THRESHOLD
    return np.where(high_a, np.where(high_v, 1, 2), np.where(high_v, 4, 3)).astype(np.int64)


def macro_f1(target_class: np.ndarray, predicted_class: np.ndarray) -> float:
    """Unweighted mean over classes (those present in the targets or the predictions) of each class's
    one-vs-rest F1. Inputs: integer labels, shape ``(n,)``."""
    t = np.asarray(target_class)
    p = np.asarray(predicted_class)
    if t.ndim != 1 or t.shape != p.shape or t.size == 0:
        raise ValueError("target and predicted classes must be equal, non-empty 1-D arrays")
    return float(np.mean([binary_f1(t == c, p == c) for c in np.union1d(t, p)]))


def _predicted_high(prediction: np.ndarray, p_high: np.ndarray | None) -> np.ndarray:
    if p_high is None:
        return np.asarray(prediction) > HIGH_THRESHOLD
    return np.asarray(p_high) > PROBABILITY_THRESHOLD


def dimension_metrics(target: np.ndarray, prediction: np.ndarray, p_high: np.ndarray | None = None) -> dict[str, float]:
    """Every per-dimension metric for one of valence/arousal.

    Args:
        target: shape ``(n,)``, in [-1, 1]; ``NaN`` marks unlabelled items, which are left out.
        prediction: shape ``(n,)``, the predicted value in [-1, 1].
        p_high: optional shape ``(n,)`` probabilities of "high"; when given, the class decisions
            (``p_high > 0.5``) and the AUC use it, otherwise they use ``prediction`` (``> 0``).

    Returns:
        ``{"n", "rmse", "r2", "pearson", "ccc", "accuracy", "f1", "auc"}``; ``n`` is the number of labelled
        items scored.
    """
    target = np.asarray(target, dtype=np.float64)
    arrays = [np.asarray(a, dtype=np.float64) for a in (prediction, p_high) if a is not None]
    if target.ndim != 1 or any(a.shape != target.shape for a in arrays):
        raise ValueError(f"target {target.shape}, prediction and p_high must be equal 1-D arrays")
    labelled = ~np.isnan(target)
    t, p = _pair(target[labelled], arrays[0][labelled])
    probability = None if p_high is None else _pair(t, arrays[1][labelled])[1]
    target_high = t > HIGH_THRESHOLD
    predicted_high = _predicted_high(p, probability)
    score = p if probability is None else probability
    return {
        "n": int(t.size),
        "rmse": rmse(t, p),
        "r2": r2(t, p),
        "pearson": pearson(t, p),
        "ccc": ccc(t, p),
        "accuracy": binary_accuracy(target_high, predicted_high),
        "f1": binary_f1(target_high, predicted_high),
        "auc": roc_auc(target_high, score),
    }


def va_metrics(
    target_va: np.ndarray, predicted_va: np.ndarray, p_high: np.ndarray | None = None
) -> dict[str, dict[str, float]]:
    """Per-dimension metrics plus 4-quadrant accuracy and macro-F1.

    Args:
        target_va: shape ``(n, 2)``, columns [valence, arousal] in [-1, 1], ``NaN`` = unlabelled.
        predicted_va: shape ``(n, 2)``, columns [valence, arousal].
        p_high: optional shape ``(n, 2)`` probabilities of "high" per dimension.

    Returns:
        ``{"valence": {...}, "arousal": {...}, "quadrant": {"n", "accuracy", "macro_f1"}}`` with the
        per-dimension keys of :func:`dimension_metrics`; quadrants use items labelled in both dimensions.
    """
    target_va = np.asarray(target_va, dtype=np.float64)
    predicted_va = np.asarray(predicted_va, dtype=np.float64)
    if target_va.ndim != 2 or target_va.shape[1] != 2 or predicted_va.shape != target_va.shape:
        raise ValueError(f"target {target_va.shape} and prediction {predicted_va.shape} must both be (n, 2)")
    if p_high is not None and np.shape(p_high) != target_va.shape:
        raise ValueError(f"p_high {np.shape(p_high)} must be (n, 2) like the targets")
    p_high = None if p_high is None else np.asarray(p_high, dtype=np.float64)
    result: dict[str, dict[str, float]] = {}
    for column, name in enumerate(("valence", "arousal")):
        column_p = None if p_high is None else p_high[:, column]
        result[name] = dimension_metrics(target_va[:, column], predicted_va[:, column], column_p)
    both = ~np.isnan(target_va).any(axis=1)
    high = [_predicted_high(predicted_va[both, c], None if p_high is None else p_high[both, c]) for c in (0, 1)]
    target_q = quadrant_of(target_va[both, 0], target_va[both, 1])
    predicted_q = quadrant_of(np.where(high[0], 1.0, -1.0), np.where(high[1], 1.0, -1.0))
    result["quadrant"] = {
        "n": int(both.sum()),
        "accuracy": float(np.mean(target_q == predicted_q)) if both.any() else math.nan,
        "macro_f1": macro_f1(target_q, predicted_q) if both.any() else math.nan,
    }
    return result

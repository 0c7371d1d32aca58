"""Baselines (train/baselines.py): the logistic regression, and the scoring of one feature set in a fold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from train import baselines
from train.datasets import Clip


def test_logistic_regression_separates_separable_classes() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (40, 3)), rng.normal(2, 1, (40, 3))])
    y = np.repeat([0, 1], 40)
    predict = baselines.fit_logistic(x, y, 2, c=1.0)
    assert (predict(x) == y).mean() > 0.95
    assert (predict(np.array([[-5.0, -5, -5], [5, 5, 5]])) == [0, 1]).all()
    three = baselines.fit_logistic(np.concatenate([x, rng.normal(8, 1, (40, 3))]), np.repeat([0, 1, 2], 40), 3, c=1.0)
    assert (three(np.array([[-2.0, -2, -2], [2, 2, 2], [8, 8, 8]])) == [0, 1, 2]).all()


def toy_clips(n: int, rng: np.random.Generator) -> list[Clip]:
    va = rng.choice([-1.0, 1.0], size=(n, 2))
    return [
        Clip(track_id=f"t{i}", source="toy", group=f"g{i % 37}", valence=v, arousal=a, audio_path=Path("x.wav"))
        for i, (v, a) in enumerate(va)
    ]


@pytest.fixture(autouse=True)
def short_grid(monkeypatch) -> None:
    """Two values of C keep the inner cross-validation quick; the search itself is what is tested."""
    monkeypatch.setattr(baselines, "C_GRID", (0.01, 1.0))


def test_predictions_of_a_feature_that_gives_the_labels_away_are_right() -> None:
    rng = np.random.default_rng(1)
    clips = toy_clips(160, rng)
    signs = np.array([(c.valence, c.arousal) for c in clips])
    x = np.concatenate([signs + 0.1 * rng.standard_normal(signs.shape), rng.standard_normal((len(clips), 3))], axis=1)
    train = np.array([c.group not in {"g1", "g2", "g3"} for c in clips])
    predicted = baselines.baseline_predictions(x, clips, train)
    held = signs[~train]
    np.testing.assert_array_equal(predicted["high"], held > 0)
    assert (
        predicted["quadrant"]
        == np.where(held[:, 1] > 0, np.where(held[:, 0] > 0, 1, 2), np.where(held[:, 0] > 0, 4, 3))
    ).all()
    assert set(predicted["C"]) <= set(baselines.C_GRID)


def test_held_out_rows_never_reach_the_regressions(monkeypatch) -> None:
    """Whatever is fit (the standardisation, C's inner folds, the weights) sees only the training rows."""
    rng = np.random.default_rng(2)
    clips = toy_clips(120, rng)
    x = rng.standard_normal((len(clips), 4))
    x[:, 0] = np.arange(len(clips))  # a row's identity, readable from what a fit receives
    train = np.array([c.group not in {"g5", "g6", "g7", "g8"} for c in clips])
    seen: set[int] = set()
    real_fit = baselines.fit_logistic

    def recording_fit(rows: np.ndarray, y: np.ndarray, n_classes: int, c: float):
        seen.update(rows[:, 0].astype(int).tolist())
        return real_fit(rows, y, n_classes, c)

    monkeypatch.setattr(baselines, "fit_logistic", recording_fit)
    baselines.baseline_predictions(x, clips, train)
    assert seen == set(np.flatnonzero(train).tolist())

"""bench/baselines.py: the logistic regression, the grouped folds and the scoring of one feature set."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import baselines
from train.datasets import Clip


def test_logistic_regression_separates_separable_classes_and_shrinks_with_small_c() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (40, 3)), rng.normal(2, 1, (40, 3))])
    y = np.repeat([0, 1], 40)
    predict = baselines.fit_logistic(x, y, 2, c=1.0)
    assert (predict(x) == y).mean() > 0.95
    assert (predict(np.array([[-5.0, -5, -5], [5, 5, 5]])) == [0, 1]).all()
    three = baselines.fit_logistic(np.concatenate([x, rng.normal(8, 1, (40, 3))]), np.repeat([0, 1, 2], 40), 3, c=1.0)
    assert (three(np.array([[-2.0, -2, -2], [2, 2, 2], [8, 8, 8]])) == [0, 1, 2]).all()


def test_group_folds_keep_each_group_whole_and_cover_everything() -> None:
    groups = [f"artist{i % 13}" for i in range(100)]
    folds = baselines.group_folds(groups)
    assert len(folds) == baselines.FOLDS and (np.sum(folds, axis=0) == 1).all()
    for fold in folds:
        inside = {g for g, f in zip(groups, fold, strict=True) if f}
        outside = {g for g, f in zip(groups, fold, strict=True) if not f}
        assert inside and not inside & outside


def test_baseline_row_scores_a_feature_that_gives_the_labels_away() -> None:
    rng = np.random.default_rng(1)

    def clips(n: int, offset: int) -> list[Clip]:
        va = rng.choice([-1.0, 1.0], size=(n, 2))
        return [
            Clip(
                track_id=f"t{offset + i}",
                source="toy",
                group=f"g{(offset + i) % 17}",
                valence=v,
                arousal=a,
                audio_path=Path("x.wav"),
            )
            for i, (v, a) in enumerate(va)
        ]

    train, test = clips(120, 0), clips(40, 1000)

    def features(items: list[Clip]) -> np.ndarray:
        signs = np.array([(c.valence, c.arousal) for c in items])
        return np.concatenate(
            [signs + 0.1 * rng.standard_normal(signs.shape), rng.standard_normal((len(items), 3))], axis=1
        )

    row = baselines.baseline_row(features(train), features(test), train, test)
    for name in ("valence", "arousal", "quadrant"):
        assert row[name]["accuracy"] == 1.0 and row[name]["C"] in baselines.C_GRID
    assert row["quadrant"]["macro_f1"] == 1.0

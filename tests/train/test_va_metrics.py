"""Metrics against hand-computed values on fixed arrays and against scipy on random ones."""

import math

import numpy as np
import pytest
import scipy.stats

from train.metrics import (
    average_ranks,
    binary_accuracy,
    binary_f1,
    ccc,
    dimension_metrics,
    macro_f1,
    pearson,
    quadrant_of,
    r2,
    rmse,
    roc_auc,
    va_metrics,
)

TARGET = np.array([-0.5, 0.0, 0.5, 1.0])
PREDICTION = np.array([-0.25, 0.25, 0.25, 0.75])
# By hand: errors +-0.25 -> RMSE 0.25; SS_tot 1.25, SS_res 0.25 -> R2 0.8; deviations t (-.75,-.25,.25,.75),
# p (-.5,0,0,.5) -> r = 0.75 / sqrt(1.25 * 0.5) = 3/sqrt(10); CCC = 2*0.1875 / (0.3125 + 0.125) = 6/7.
# High (> 0): target FFTT, prediction FTTT -> accuracy 3/4, F1 2*2/(2*2+1+0) = 0.8; AUC: the high items
# (0.25, 0.75) against the low (-0.25, 0.25): 1 + 0.5 + 1 + 1 over 4 pairs = 0.875.
HAND = {"rmse": 0.25, "r2": 0.8, "pearson": 3 / math.sqrt(10), "ccc": 6 / 7, "accuracy": 0.75, "f1": 0.8, "auc": 0.875}


def test_dimension_metrics_equal_hand_computed_values():
    result = dimension_metrics(TARGET, PREDICTION)
    assert result["n"] == 4
    for key, value in HAND.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key


def test_single_metrics_equal_hand_computed_values():
    assert rmse(TARGET, PREDICTION) == pytest.approx(0.25, abs=1e-12)
    assert r2(TARGET, PREDICTION) == pytest.approx(0.8, abs=1e-12)
    assert pearson(TARGET, PREDICTION) == pytest.approx(3 / math.sqrt(10), abs=1e-12)
    assert ccc(TARGET, PREDICTION) == pytest.approx(6 / 7, abs=1e-12)
    high_t, high_p = TARGET > 0, PREDICTION > 0
    assert binary_accuracy(high_t, high_p) == 0.75
    assert binary_f1(high_t, high_p) == pytest.approx(0.8)
    assert roc_auc(high_t, PREDICTION) == 0.875


def test_ccc_penalises_bias_that_pearson_ignores():
    shifted = PREDICTION + 0.5
    assert pearson(TARGET, shifted) == pytest.approx(pearson(TARGET, PREDICTION), abs=1e-12)
    # Mean difference 0.5 adds 0.25 to the denominator: 0.375 / (0.4375 + 0.25).
    assert ccc(TARGET, shifted) == pytest.approx(0.375 / 0.6875, abs=1e-12)


def test_pearson_and_auc_match_scipy_on_random_arrays():
    rng = np.random.default_rng(3)
    target = rng.uniform(-1, 1, 200)
    prediction = 0.6 * target + rng.normal(0, 0.4, 200)
    assert pearson(target, prediction) == pytest.approx(scipy.stats.pearsonr(target, prediction).statistic, abs=1e-12)
    scores = np.round(prediction, 1)  # many ties
    high = target > 0
    u = scipy.stats.mannwhitneyu(scores[high], scores[~high]).statistic
    assert roc_auc(high, scores) == pytest.approx(u / (high.sum() * (~high).sum()), abs=1e-12)
    np.testing.assert_allclose(average_ranks(scores), scipy.stats.rankdata(scores), atol=0)


def test_quadrants_follow_russell_with_zero_counted_low():
    valence = np.array([0.5, -0.5, -0.5, 0.5, 0.0, 0.1, 0.0])
    arousal = np.array([0.5, 0.5, -0.5, -0.5, 0.2, 0.0, 0.0])
    np.testing.assert_array_equal(quadrant_of(valence, arousal), [1, 2, 3, 4, 2, 4, 3])


def test_macro_f1_equals_hand_computed_value():
    # Per class: Q1 TP1 FP1 FN1 -> 1/2; Q2 TP1 FP1 -> 2/3; Q3 -> 1; Q4 TP1 FN1 -> 2/3; mean 17/24.
    assert macro_f1(np.array([1, 1, 2, 3, 4, 4]), np.array([1, 2, 2, 3, 4, 1])) == pytest.approx(17 / 24, abs=1e-12)


def test_undefined_metrics_are_nan_and_only_those():
    constant = np.zeros(4)
    assert math.isnan(pearson(TARGET, constant))
    assert math.isnan(r2(constant, PREDICTION))
    assert ccc(TARGET, constant) == 0.0
    assert math.isnan(ccc(constant, constant))
    assert math.isnan(roc_auc(np.ones(4, dtype=bool), PREDICTION))
    assert math.isnan(binary_f1(np.zeros(4, dtype=bool), np.zeros(4, dtype=bool)))
    assert binary_f1(np.zeros(4, dtype=bool), np.ones(4, dtype=bool)) == 0.0


def test_va_metrics_skip_unlabelled_rows_and_score_quadrants():
    target = np.array([[0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5], [0.5, -0.5], [np.nan, 0.3]])
    predicted = np.array([[0.2, 0.4], [0.3, 0.1], [-0.1, -0.2], [0.4, 0.3], [0.9, 0.9]])
    result = va_metrics(target, predicted)
    assert result["valence"]["n"] == 4 and result["arousal"]["n"] == 5
    assert result["valence"]["accuracy"] == 0.75  # row 1 predicted high, is low
    assert result["arousal"]["accuracy"] == 0.8  # row 3 predicted high, is low
    # Quadrants over the 4 fully labelled rows: target 1,2,3,4; predicted 1,1,3,1 -> 2 of 4.
    assert result["quadrant"] == {"n": 4, "accuracy": 0.5, "macro_f1": pytest.approx((0.5 + 0 + 1 + 0) / 4)}


def test_probabilities_drive_classes_and_auc_when_given():
    p_high = np.array([[0.9, 0.2], [0.1, 0.8], [0.4, 0.3], [0.6, 0.7]])
    target = np.array([[0.5, -0.5], [-0.5, 0.5], [-0.5, -0.5], [0.5, 0.5]])
    predicted = -target  # every sign wrong: only p_high can make the classes right
    result = va_metrics(target, predicted, p_high)
    assert result["valence"]["accuracy"] == 1.0 and result["arousal"]["accuracy"] == 1.0
    assert result["valence"]["auc"] == 1.0 and result["quadrant"]["accuracy"] == 1.0
    assert result["valence"]["pearson"] == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "target, prediction",
    [
        (np.zeros(3), np.zeros(4)),
        (np.zeros((2, 2)), np.zeros((2, 2))),
        (np.zeros(0), np.zeros(0)),
        (np.zeros(3), np.array([0.0, np.nan, 1.0])),
    ],
)
def test_bad_inputs_raise(target, prediction):
    with pytest.raises(ValueError):
        rmse(target, prediction)

"""Supervised losses against independent float64 references (train.metrics, hand-written formulas)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from damer_core.model import DamerOutput
from train.losses import concordance, head_terms, label_weights, supervised_loss
from train.metrics import ccc
from train.recipe import LossConfig


def test_concordance_equals_the_metric_and_weights_act_as_repeats() -> None:
    rng = np.random.default_rng(1)
    prediction, target = rng.uniform(-1, 1, 40), rng.uniform(-1, 1, 40)
    ours = concordance(torch.tensor(prediction), torch.tensor(target), torch.ones(40, dtype=torch.float64))
    assert float(ours) == pytest.approx(ccc(target, prediction), abs=1e-7)
    repeats = rng.integers(1, 4, 40)
    weighted = concordance(torch.tensor(prediction), torch.tensor(target), torch.tensor(repeats, dtype=torch.float64))
    assert float(weighted) == pytest.approx(ccc(np.repeat(target, repeats), np.repeat(prediction, repeats)), abs=1e-7)


def test_head_terms_skip_missing_labels() -> None:
    nan = math.nan
    va = torch.tensor([[[0.5, 0.0], [0.1, -0.2], [0.9, 0.9]]])
    logits = torch.tensor([[[1.0, -1.0], [0.0, 2.0], [5.0, 5.0]]])
    target = torch.tensor([[[0.3, nan], [-0.5, 0.4], [nan, nan]]])
    weight = label_weights(target, torch.tensor([[1.0, 3.0, 1.0]]))
    terms = head_terms(va, logits, target, weight)

    def bce(logit: float, high: bool) -> float:
        p = 1 / (1 + math.exp(-logit))
        return -math.log(p if high else 1 - p)

    mse_v = (1 * (0.5 - 0.3) ** 2 + 3 * (0.1 + 0.5) ** 2) / 4
    mse_a = (-0.2 - 0.4) ** 2
    bce_v = (bce(1.0, True) + 3 * bce(0.0, False)) / 4
    bce_a = bce(2.0, True)
    ccc_v = ccc(np.repeat([0.3, -0.5], [1, 3]), np.repeat([0.5, 0.1], [1, 3]))
    assert float(terms["mse"]) == pytest.approx((mse_v + mse_a) / 2, abs=1e-6)
    assert float(terms["bce"]) == pytest.approx((bce_v + bce_a) / 2, abs=1e-6)
    assert float(terms["ccc"]) == pytest.approx(1 - ccc_v, abs=1e-5)  # arousal has one entry: no CCC


def test_supervised_loss_weights_the_view_heads() -> None:
    target = torch.tensor([[[0.3, -0.4], [0.6, 0.2]]])
    head = (torch.tensor([[[0.1, 0.1], [0.2, 0.1]]]), torch.tensor([[[0.5, -0.5], [1.0, 0.0]]]))
    view = (torch.tensor([[[-0.1, 0.3], [0.0, 0.0]]]), torch.tensor([[[0.0, 0.0], [1.0, 1.0]]]))
    output = DamerOutput(
        head[0],
        head[1],
        torch.zeros(1, 2, 4),
        {"mel": view[0], "cochleagram": view[0]},
        {"mel": view[1], "cochleagram": view[1]},
    )
    config = LossConfig(ccc_weight=0.5, mse_weight=2.0, bce_weight=3.0, view_weight=0.25)
    loss, parts = supervised_loss(output, target, torch.ones(1, 2), config)
    weight = label_weights(target, torch.ones(1, 2))
    fused, single = head_terms(*head, target, weight), head_terms(*view, target, weight)

    def combined(t: dict) -> float:
        return 0.5 * float(t["ccc"]) + 2.0 * float(t["mse"]) + 3.0 * float(t["bce"])

    assert float(loss) == pytest.approx(combined(fused) + 0.25 * 2 * combined(single), abs=1e-6)
    assert parts["view_mse"] == pytest.approx(2 * float(single["mse"]), abs=1e-7)
    nothing, _ = supervised_loss(output, torch.full_like(target, math.nan), torch.ones(1, 2), config)
    assert float(nothing) == 0.0

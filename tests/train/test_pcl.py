"""PCL: curriculum schedules, Bernoulli JS divergence against scipy, pseudo-labels of a fixed teacher against
hand-computed values, the loss terms, the EMA update."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon

from damer_core.model import DamerModel, DamerOutput, ModelConfig
from damer_core.spec import FeatureSpec
from train.pcl import PCL, bernoulli_js, curve_value, pseudo_label
from train.recipe import PCLConfig

TINY = ModelConfig(
    d_model=8,
    n_heads=2,
    encoder_blocks=1,
    dsaf_blocks=1,
    fusion_window_tokens=4,
    temporal_layers=1,
    window_tokens=4,
    embed_dim=4,
    dropout=0.0,
)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def js_by_hand(p: float, q: float) -> float:
    def entropy(x: float) -> float:
        return -sum(v * math.log(v) for v in (x, 1.0 - x) if v > 0)

    return entropy((p + q) / 2) - (entropy(p) + entropy(q)) / 2


def outputs(logits: list, mel: list, coch: list) -> DamerOutput:
    """Outputs of one crop of tokens with the given fused and per-view logits (va = tanh(logit / 2))."""
    fused = torch.tensor([logits], dtype=torch.float32)
    views = {"mel": torch.tensor([mel]), "cochleagram": torch.tensor([coch])}
    return DamerOutput(
        torch.tanh(fused / 2),
        fused,
        torch.zeros(1, fused.shape[1], 4),
        {v: torch.tanh(x) for v, x in views.items()},
        views,
    )


def test_curves_go_from_start_to_end() -> None:
    assert curve_value(0.9, 0.5, "linear", 0.25) == pytest.approx(0.8)
    assert curve_value(0.9, 0.5, "cosine", 0.25) == pytest.approx(0.9 - 0.4 * (1 - math.cos(math.pi / 4)) / 2)
    assert curve_value(0.9, 0.5, "cosine", 0.5) == pytest.approx(0.7)
    assert curve_value(0.9, 0.5, "cosine", -1.0) == 0.9 and curve_value(0.9, 0.5, "linear", 3.0) == pytest.approx(0.5)


def test_thresholds_and_temperatures_follow_the_schedule() -> None:
    config = PCLConfig(
        start_step=10,
        ramp_steps=100,
        threshold_start=0.9,
        threshold_end=0.5,
        threshold_curve="cosine",
        temperature_start=1.0,
        temperature_end=0.25,
        temperature_curve="linear",
    )
    pcl = PCL(config, DamerModel(TINY, FeatureSpec()))
    assert not pcl.active(9) and pcl.active(10)
    expected = {
        0: (0.9, 1.0),
        10: (0.9, 1.0),
        35: (0.9 - 0.4 * (1 - math.cos(math.pi / 4)) / 2, 0.8125),
        60: (0.7, 0.625),
        110: (0.5, 0.25),
        500: (0.5, 0.25),
    }
    for step, (threshold, temperature) in expected.items():
        assert pcl.threshold(step) == pytest.approx(threshold), step
        assert pcl.temperature(step) == pytest.approx(temperature), step


def test_bernoulli_js_equals_scipy() -> None:
    p = np.array([0.0, 0.1, 0.5, 0.73, 0.999, 1.0])
    q = np.array([1.0, 0.4, 0.5, 0.2, 0.001, 1.0])
    ours = bernoulli_js(torch.tensor(p, dtype=torch.float64), torch.tensor(q, dtype=torch.float64)).numpy()
    reference = [jensenshannon([a, 1 - a], [b, 1 - b]) ** 2 for a, b in zip(p, q, strict=False)]  # natural log
    np.testing.assert_allclose(ours, reference, atol=1e-12)
    assert ours[0] == pytest.approx(math.log(2))


def test_fixed_teacher_pseudo_labels_equal_hand_computed_values() -> None:
    fused = [[2.0, -0.2], [0.5, -3.0], [-1.0, 0.1]]
    mel = [[2.0, 0.0], [0.5, -3.0], [-1.0, 0.0]]
    coch = [[2.0, 0.0], [0.5, 1.0], [-1.5, 0.0]]
    candidates = torch.tensor([[[True, True], [False, True], [True, True]]])
    labels = pseudo_label(outputs(fused, mel, coch), candidates, threshold=0.6, temperature=0.5, js_gate=0.05)
    accepted = np.zeros((3, 2), dtype=bool)
    for n in range(3):
        for d in range(2):
            p = sigmoid(fused[n][d] / 0.5)
            js = js_by_hand(sigmoid(mel[n][d]), sigmoid(coch[n][d]))
            assert float(labels.p_high[0, n, d]) == pytest.approx(p, abs=1e-6)
            assert float(labels.confidence[0, n, d]) == pytest.approx(abs(2 * p - 1), abs=1e-6)
            assert float(labels.js[0, n, d]) == pytest.approx(js, abs=1e-6)
            accepted[n, d] = bool(candidates[0, n, d]) and abs(2 * p - 1) >= 0.6 and js <= 0.05
    # (0, 0): confident, views agree; (1, 1): confident but the views disagree (JS ~ 0.26); (2, 0): confident,
    # views close (JS ~ 0.004); (1, 0): not a candidate; the rest are not confident.
    assert accepted.tolist() == [[True, False], [False, False], [True, False]]
    assert labels.accepted[0].tolist() == accepted.tolist()
    assert labels.accepted_share() == pytest.approx(2 / 5)


def test_single_view_teacher_has_an_open_gate() -> None:
    output = outputs([[3.0, 3.0]], [[3.0, -3.0]], [[-3.0, 3.0]])
    output = output._replace(view_logits={"mel": output.view_logits["mel"]})
    labels = pseudo_label(output, torch.ones(1, 1, 2, dtype=torch.bool), 0.5, 1.0, 0.0)
    assert labels.accepted.all() and float(labels.js.abs().max()) == 0.0


def test_loss_terms_equal_hand_computed_values() -> None:
    config = PCLConfig(pseudo_weight=2.0, pseudo_va_weight=3.0, js_weight=5.0)
    pcl = PCL(config, DamerModel(TINY, FeatureSpec()))
    teacher = outputs([[2.0, -0.2], [0.5, -3.0]], [[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]])
    labels = pseudo_label(teacher, torch.ones(1, 2, 2, dtype=torch.bool), 0.9, 1.0, 1.0)
    assert labels.accepted[0].tolist() == [[False, False], [False, True]]  # tanh(|l| / 2) >= 0.9 only for -3
    student = outputs([[0.3, 0.4], [-0.2, 1.0]], [[1.0, -1.0], [0.0, 2.0]], [[0.0, 1.0], [0.0, 2.0]])
    valid = torch.tensor([[True, False]])
    loss, parts = pcl.loss(student, labels, valid)
    p = sigmoid(-3.0)
    bce = -(p * math.log(sigmoid(1.0)) + (1 - p) * math.log(1 - sigmoid(1.0)))
    mse = (math.tanh(0.5) - math.tanh(-1.5)) ** 2
    js = (js_by_hand(sigmoid(1.0), sigmoid(0.0)) + js_by_hand(sigmoid(-1.0), sigmoid(1.0))) / 2  # token 0 only
    assert parts["pseudo_bce"] == pytest.approx(bce, abs=1e-6)
    assert parts["pseudo_mse"] == pytest.approx(mse, abs=1e-6)
    assert parts["js"] == pytest.approx(js, abs=1e-6)
    assert float(loss) == pytest.approx(2 * bce + 3 * mse + 5 * js, abs=1e-5)
    no_labels, parts = pcl.loss(student, None, valid)
    assert float(no_labels) == pytest.approx(5 * js, abs=1e-6) and "pseudo_bce" not in parts


def test_teacher_is_an_exponential_moving_average_of_the_student() -> None:
    torch.manual_seed(0)
    student = DamerModel(TINY, FeatureSpec())
    pcl = PCL(PCLConfig(ema_decay=0.75), student)
    before = {name: p.clone() for name, p in pcl.teacher.named_parameters()}
    with torch.no_grad():
        for parameter in student.parameters():
            parameter.add_(torch.randn_like(parameter))
        student.set_input_stats(np.full(128, -4.0), np.full(128, 2.0), np.full(84, -9.0), np.full(84, 3.0))
    pcl.update_teacher(student)
    for name, parameter in student.named_parameters():
        torch.testing.assert_close(dict(pcl.teacher.named_parameters())[name], 0.75 * before[name] + 0.25 * parameter)
    teacher_buffers = dict(pcl.teacher.named_buffers())
    for name, buffer in student.named_buffers():
        assert torch.equal(teacher_buffers[name], buffer), name
    pcl.train()
    assert not pcl.teacher.training


def test_teacher_runs_only_on_crops_with_candidates() -> None:
    torch.manual_seed(1)
    pcl = PCL(PCLConfig(threshold_start=0.0, threshold_end=0.0, js_gate=1.0), DamerModel(TINY, FeatureSpec()))
    with torch.no_grad():
        for parameter in pcl.teacher.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    mel, coch = torch.randn(3, 12, 128), torch.randn(3, 12, 84)
    candidates = torch.zeros(3, 6, 2, dtype=torch.bool)
    candidates[1, 2:, 0] = True
    labels = pcl.label(mel, coch, candidates, step=5)
    alone = pcl.teacher(mel[1:2], coch[1:2])
    torch.testing.assert_close(labels.p_high[1], torch.sigmoid(alone.logits[0] / pcl.temperature(5)))
    assert torch.equal(labels.accepted, candidates)

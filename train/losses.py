"""Supervised losses on per-token outputs: valence/arousal regression (1 - CCC and MSE) and the high/low task
(binary cross-entropy), for the fused head and, with a smaller weight, for each per-view head.

Every term is a weighted mean over the labelled (token, dimension) entries of the batch: an entry counts when
its target is not ``NaN`` and its token is valid, with the crop's label confidence as weight when enabled.
The two dimensions are averaged; a dimension with no labelled entry in the batch is left out (a term with no
entry at all is 0). CCC is computed over all labelled tokens of the batch per dimension (weighted moments),
as a batch-level concordance of estimates and targets; it needs at least two entries.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from damer_core.model import DamerOutput
from train.recipe import LossConfig

_EPS = 1e-8


def weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum(values * weights) / sum(weights)``, or 0 when the weights sum to 0 (any equal shapes)."""
    total = weights.sum()
    return (values * weights).sum() / total.clamp_min(_EPS) if bool(total > 0) else values.sum() * 0.0


def concordance(prediction: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted concordance correlation coefficient of 1-D ``prediction`` and ``target`` (population
    moments): ``2 cov / (var_p + var_t + (mean_p - mean_t)^2)``."""
    total = weights.sum().clamp_min(_EPS)
    mean_p = (weights * prediction).sum() / total
    mean_t = (weights * target).sum() / total
    dp, dt = prediction - mean_p, target - mean_t
    covariance = (weights * dp * dt).sum() / total
    var_p = (weights * dp * dp).sum() / total
    var_t = (weights * dt * dt).sum() / total
    return 2.0 * covariance / (var_p + var_t + (mean_p - mean_t) ** 2 + _EPS)


def label_weights(target: torch.Tensor, token_weight: torch.Tensor) -> torch.Tensor:
    """``(B, N, 2)`` weight of each entry: ``token_weight (B, N)`` where the target is labelled, else 0."""
    return torch.where(torch.isnan(target), 0.0, token_weight.unsqueeze(-1).to(target.dtype))


def head_terms(
    va: torch.Tensor, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> dict[str, torch.Tensor]:
    """``{"ccc": 1 - CCC, "mse", "bce"}`` of one head.

    Args:
        va: ``(B, N, 2)`` estimates.
        logits: ``(B, N, 2)`` high/low logits.
        target: ``(B, N, 2)`` targets in [-1, 1], ``NaN`` = none.
        weight: ``(B, N, 2)`` entry weights (0 for unlabelled entries), e.g. from :func:`label_weights`.
    """
    va, logits = va.float(), logits.float()
    clean = torch.nan_to_num(target, nan=0.0)
    high = (clean > 0).float()
    squared = (va - clean) ** 2
    bce = F.binary_cross_entropy_with_logits(logits, high, reduction="none")
    terms: dict[str, list[torch.Tensor]] = {"ccc": [], "mse": [], "bce": []}
    for d in range(2):
        w = weight[..., d]
        if not bool((w > 0).any()):
            continue
        terms["mse"].append(weighted_mean(squared[..., d], w))
        terms["bce"].append(weighted_mean(bce[..., d], w))
        if int((w > 0).sum()) >= 2:
            mask = w > 0
            terms["ccc"].append(1.0 - concordance(va[..., d][mask], clean[..., d][mask], w[mask]))
    zero = va.sum() * 0.0
    return {name: torch.stack(values).mean() if values else zero for name, values in terms.items()}


def supervised_loss(
    output: DamerOutput, target: torch.Tensor, token_weight: torch.Tensor, config: LossConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of the fused head's terms and ``view_weight`` times each view head's terms.

    Args:
        output: the student's outputs for ``B`` crops of ``N`` tokens.
        target: ``(B, N, 2)`` targets, ``NaN`` = none.
        token_weight: ``(B, N)`` weight of each token (0 for padding; the crop's confidence otherwise).
        config: the loss weights.

    Returns:
        The loss and its parts as floats (``"ccc"``, ``"mse"``, ``"bce"`` of the fused head,
        ``"view_<term>"`` summed over views).
    """
    weight = label_weights(target, token_weight)
    fused = head_terms(output.va, output.logits, target, weight)
    views = [head_terms(output.view_va[v], output.view_logits[v], target, weight) for v in output.view_va]

    def combine(terms: dict[str, torch.Tensor]) -> torch.Tensor:
        return config.ccc_weight * terms["ccc"] + config.mse_weight * terms["mse"] + config.bce_weight * terms["bce"]

    loss = combine(fused) + config.view_weight * sum((combine(t) for t in views), fused["mse"] * 0.0)
    parts = {name: float(value.detach()) for name, value in fused.items()}
    for name in ("ccc", "mse", "bce"):
        parts[f"view_{name}"] = float(sum(float(t[name].detach()) for t in views))
    return loss, parts

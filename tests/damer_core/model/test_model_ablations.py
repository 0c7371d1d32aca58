"""Ablation switches (no DSAF, one view) build, learn from a training step, and stream like offline."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from damer_core.model import DamerModel, DamerOutput

# overrides, then what must be built: DSAF blocks, fusion module, encoders.
ABLATIONS = {
    "dsaf": ({}, 1, "GatedFusion", {"mel", "cochleagram"}),
    "concat": ({"fusion": "concat"}, 0, "ConcatFusion", {"mel", "cochleagram"}),
    "mel-only": ({"views": ("mel",)}, 0, "NoneType", {"mel"}),
    "cochleagram-only": ({"views": ("cochleagram",)}, 0, "NoneType", {"cochleagram"}),
}


def loss_of(output: DamerOutput, va: torch.Tensor, high: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
    """Every head takes part: regression, high/low classification (fused and per view) and an embedding term."""
    loss = F.mse_loss(output.va, va) + F.binary_cross_entropy_with_logits(output.logits, high)
    for view in output.view_va:
        loss = loss + F.mse_loss(output.view_va[view], va)
        loss = loss + F.binary_cross_entropy_with_logits(output.view_logits[view], high)
    return loss + (1 - (output.embedding * anchor).sum(-1)).mean()


@pytest.mark.parametrize(("overrides", "n_dsaf", "fusion", "views"), ABLATIONS.values(), ids=ABLATIONS.keys())
def test_training_step_and_streaming(
    overrides: dict, n_dsaf: int, fusion: str, views: set[str], make_model, make_frames, rel_err
) -> None:
    model: DamerModel = make_model(dropout=0.0, **overrides)
    assert (len(model.dsaf), type(model.fusion).__name__, set(model.encoders)) == (n_dsaf, fusion, views)
    assert set(model.view_heads) == views

    mel, coch = make_frames(60, batch=3)
    generator = torch.Generator().manual_seed(1)
    va = torch.rand(3, 30, 2, generator=generator) * 2 - 1
    high = (va > 0).float()
    anchor = F.normalize(torch.randn(3, 30, model.config.embed_dim, generator=generator), dim=-1)

    model.train()
    before = loss_of(model(mel, coch), va, high, anchor)
    before.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert torch.count_nonzero(parameter.grad) > 0, name
    torch.optim.Adam(model.parameters(), lr=1e-3).step()
    with torch.no_grad():
        after = loss_of(model(mel, coch), va, high, anchor)
    assert after < before.detach()

    model.eval()
    streamer = model.streaming(batch=3)
    with torch.no_grad():
        expected = model(mel, coch)
    outputs = [streamer.push(mel[:, i : i + 7], coch[:, i : i + 7]) for i in range(0, 60, 7)]
    streamed_va = torch.cat([o.va for o in outputs], dim=1)
    assert rel_err(streamed_va, expected.va) < 1e-5
    for view in views:
        streamed = torch.cat([o.view_logits[view] for o in outputs], dim=1)
        assert rel_err(streamed, expected.view_logits[view]) < 1e-5

"""Small building blocks shared by the encoders, the fusion and the temporal model."""

from __future__ import annotations

import torch
from torch import nn


def shift_in(cache: torch.Tensor, new: torch.Tensor, dim: int) -> torch.Tensor:
    """Fixed-size cache update: drop the oldest slot along ``dim`` and append ``new`` (one slot) at the end."""
    return torch.cat((cache.narrow(dim, 1, cache.shape[dim] - 1), new), dim=dim)


class FeedForward(nn.Module):
    """Pre-norm position-wise MLP: ``Linear(GELU(Linear(LayerNorm(x))))`` (tanh form of GELU, cheaper on the CPU).

    Shapes: ``(..., d_model) -> (..., d_model)``; the hidden width is ``ffn_mult * d_model``. Dropout is
    applied to the hidden activations during training.
    """

    def __init__(self, d_model: int, ffn_mult: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.hidden = nn.Linear(d_model, ffn_mult * d_model)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(ffn_mult * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(nn.functional.gelu(self.hidden(self.norm(x)), approximate="tanh")))

"""Temporal model: pre-norm transformer layers of causal self-attention over the last W tokens."""

from __future__ import annotations

import torch
from torch import nn

from damer_core.model.attention import WindowedAttention
from damer_core.model.layers import FeedForward


class TemporalLayer(nn.Module):
    """``x += attn(norm(x))`` over the last ``window`` tokens, then ``x += FeedForward(x)``.

    Shapes: ``(B, N, d) -> (B, N, d)``. Streaming state: ``f"{name}.keys"``, ``f"{name}.values"``
    ``(B, H, window, head_dim)``.
    """

    def __init__(self, name: str, d_model: int, n_heads: int, window: int, ffn_mult: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.attention = WindowedAttention(d_model, n_heads, window, dropout)
        self.ff = FeedForward(d_model, ffn_mult, dropout)
        self.dropout = nn.Dropout(dropout)
        self.cache_names = (f"{name}.keys", f"{name}.values")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Offline over ``(B, N, d)`` tokens."""
        normed = self.norm(x)
        x = x + self.dropout(self.attention(normed, normed))
        return x + self.dropout(self.ff(x))

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """Empty key/value caches."""
        return {name: self.attention.init_cache(batch, device, dtype) for name in self.cache_names}

    def step(
        self, x: torch.Tensor, mask: torch.Tensor, state: dict[str, torch.Tensor], new_state: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """One token ``(B, 1, d)``; ``mask`` as in :meth:`WindowedAttention.step`. Writes the caches to
        ``new_state``."""
        keys, values = self.cache_names
        normed = self.norm(x)
        mixed, new_state[keys], new_state[values] = self.attention.step(
            normed, normed, state[keys], state[values], mask
        )
        x = x + mixed
        return x + self.ff(x)

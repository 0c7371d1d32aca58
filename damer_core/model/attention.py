"""Causal windowed multi-head attention with a learned relative-distance bias.

A query at token ``i`` sees the keys of tokens ``j`` with ``0 <= i - j < window`` (itself included). The
only position information is a per-head bias on the score that depends on the distance ``i - j``: a table
of ``window`` learned values per head, initialised ALiBi-style (``-slope_h * distance`` with geometric
slopes). No absolute positions exist, so a stream may run for hours with the same numbers.

The offline form (:meth:`WindowedAttention.forward`) processes whole sequences in blocks of ``window``
queries, so memory grows as ``N * window`` rather than ``N**2``; the streaming form
(:meth:`WindowedAttention.step`) keeps fixed-size key/value caches of ``window`` slots, oldest first, and
a mask (``0`` for a filled slot, ``-inf`` for an empty one) that the caller shifts along with them.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.functional import scaled_dot_product_attention

from damer_core.model.layers import shift_in


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Geometric per-head slopes ``2**(-8 (h + 1) / n_heads)``, shape ``(n_heads,)`` (ALiBi's choice)."""
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / n_heads) for h in range(n_heads)])


def windowed_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, distance_bias: torch.Tensor, dropout_p: float = 0.0
) -> torch.Tensor:
    """Causal attention of every query over the keys of the last ``window`` tokens up to its own.

    Args:
        q, k, v: ``(B, H, N, head_dim)``, one row per token.
        distance_bias: ``(H, window)``; entry ``[h, d]`` is added to the scores of head ``h`` for a key
            ``d`` tokens before the query.
        dropout_p: dropout on the attention weights (training only).

    Returns:
        ``(B, H, N, head_dim)``.
    """
    n_tokens = q.shape[2]
    window = distance_bias.shape[1]
    blocks = []
    for start in range(0, n_tokens, window):
        stop = min(start + window, n_tokens)
        first_key = max(0, start - window + 1)
        queries = torch.arange(start, stop, device=q.device)
        keys = torch.arange(first_key, stop, device=q.device)
        distance = queries[:, None] - keys[None, :]
        bias = distance_bias[:, distance.clamp(0, window - 1)]
        bias = bias.masked_fill((distance < 0) | (distance >= window), -math.inf)
        blocks.append(
            scaled_dot_product_attention(
                q[:, :, start:stop],
                k[:, :, first_key:stop],
                v[:, :, first_key:stop],
                attn_mask=bias,
                dropout_p=dropout_p,
            )
        )
    return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=2)


class WindowedAttention(nn.Module):
    """Multi-head attention of a query stream over a context stream (the same stream for self-attention).

    Both streams are on one token grid: query token ``i`` attends to context tokens ``i - window + 1 .. i``.

    Parameters: ``query`` (d, d), ``key_value`` (d, 2d), ``out`` (d, d) linear maps, ``distance_bias``
    (n_heads, window).
    """

    def __init__(self, d_model: int, n_heads: int, window: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.window = window
        self.dropout = dropout
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)
        distance = torch.arange(window, dtype=torch.float32)
        self.distance_bias = nn.Parameter(-alibi_slopes(n_heads)[:, None] * distance)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Offline: ``query``, ``context`` ``(B, N, d)`` -> ``(B, N, d)``."""
        batch, n_tokens, d_model = query.shape
        q = self.query(query).view(batch, n_tokens, self.n_heads, self.head_dim).transpose(1, 2)
        kv = self.key_value(context).view(batch, n_tokens, 2, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        heads = windowed_attention(q, kv[0], kv[1], self.distance_bias, self.dropout if self.training else 0.0)
        return self.out(heads.transpose(1, 2).reshape(batch, n_tokens, d_model))

    def init_cache(self, batch: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """Empty key (or value) cache ``(B, H, window, head_dim)``."""
        return torch.zeros(batch, self.n_heads, self.window, self.head_dim, device=device, dtype=dtype)

    def step(
        self,
        query: torch.Tensor,
        context: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One new token.

        Args:
            query, context: ``(B, 1, d)``, the new token of each stream.
            keys, values: caches ``(B, H, window, head_dim)`` of the previous ``window`` tokens, oldest first.
            mask: ``(B, 1, 1, window)`` already shifted for the new token: ``0`` where a slot holds a token,
                ``-inf`` where it is empty.

        Returns:
            ``(output (B, 1, d), keys, values)`` with the caches shifted by one and the new token last.
        """
        batch, _, d_model = query.shape
        q = self.query(query).view(batch, 1, self.n_heads, self.head_dim).transpose(1, 2)
        kv = self.key_value(context).view(batch, 1, 2, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        keys, values = shift_in(keys, kv[0], dim=2), shift_in(values, kv[1], dim=2)
        bias = self.distance_bias.flip(-1).unsqueeze(1) + mask
        heads = scaled_dot_product_attention(q, keys, values, attn_mask=bias)
        return self.out(heads.transpose(1, 2).reshape(batch, 1, d_model)), keys, values

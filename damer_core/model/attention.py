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
from torch.nn import functional as F
from torch.nn.functional import scaled_dot_product_attention

from damer_core.model.layers import shift_in


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Geometric per-head slopes ``2**(-8 (h + 1) / n_heads)``, shape ``(n_heads,)`` (ALiBi's choice)."""
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / n_heads) for h in range(n_heads)])


def window_bias(distance_bias: torch.Tensor) -> torch.Tensor:
    """The additive score mask of one block of attention: ``(H, window, 2 * window - 1)``.

    Query ``i`` of a block (token ``start + i``) against key ``j`` of the block's keys (token
    ``start - window + 1 + j``): the key is ``i - j + window - 1`` tokens before the query; the distance bias
    where that is in ``[0, window)``, ``-inf`` elsewhere.
    """
    window = distance_bias.shape[1]
    queries = torch.arange(window, device=distance_bias.device)
    keys = torch.arange(2 * window - 1, device=distance_bias.device)
    distance = queries[:, None] - keys[None, :] + window - 1
    bias = distance_bias[:, distance.clamp(0, window - 1)]
    return bias.masked_fill((distance < 0) | (distance >= window), -math.inf)


def windowed_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, distance_bias: torch.Tensor, dropout_p: float = 0.0
) -> torch.Tensor:
    """Causal attention of every query over the keys of the last ``window`` tokens up to its own.

    The tokens are cut into blocks of ``window`` queries; each block attends to the ``2 * window - 1`` keys
    that can reach it. All blocks go through one attention call (the keys of each block are a strided
    window of the zero-padded keys), so the cost is about ``2 * N * window`` scores whatever ``N``, with a
    handful of operations per call. The first block, whose window reaches before token 0, is computed
    apart with its real keys only.

    Args:
        q, k, v: ``(B, H, N, head_dim)``, one row per token.
        distance_bias: ``(H, window)``; entry ``[h, d]`` is added to the scores of head ``h`` for a key
            ``d`` tokens before the query.
        dropout_p: dropout on the attention weights (training only).

    Returns:
        ``(B, H, N, head_dim)``.
    """
    batch, heads, n_tokens, head_dim = q.shape
    window = distance_bias.shape[1]
    bias = window_bias(distance_bias)
    first = min(window, n_tokens)
    head = scaled_dot_product_attention(
        q[:, :, :first],
        k[:, :, :first],
        v[:, :, :first],
        attn_mask=bias[:, :first, window - 1 : window - 1 + first].expand(batch, -1, -1, -1),
        dropout_p=dropout_p,
    )
    if n_tokens <= window:
        return head
    n_blocks = -(-n_tokens // window)
    tail = n_blocks * window - n_tokens
    # Blocks after the first become batch rows: (B * (n_blocks - 1), H, rows, head_dim).
    queries = F.pad(q[:, :, window:], (0, 0, 0, tail)).unflatten(2, (n_blocks - 1, window))
    queries = queries.transpose(1, 2).flatten(0, 1)

    def block_windows(x: torch.Tensor) -> torch.Tensor:
        # The 2 * window - 1 keys that reach each block after the first.
        padded = F.pad(x[:, :, 1:], (0, 0, 0, tail))
        windows = padded.unfold(2, 2 * window - 1, window).permute(0, 2, 1, 4, 3)
        return windows.flatten(0, 1)

    # The mask is expanded to the full batch shape (a view): a mask left to broadcast makes
    # scaled_dot_product_attention take a path about ten times slower on the CPU.
    mask = bias.expand(queries.shape[0], -1, -1, -1)
    rest = scaled_dot_product_attention(
        queries, block_windows(k), block_windows(v), attn_mask=mask, dropout_p=dropout_p
    )
    rest = rest.unflatten(0, (batch, n_blocks - 1)).transpose(1, 2).flatten(2, 3)
    return torch.cat((head, rest[:, :, : n_tokens - window]), dim=2)


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

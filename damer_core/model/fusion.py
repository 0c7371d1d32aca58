"""Fusion of the views' token streams (Mel, cochleagram and, when present, the pretrained musicnn view).

DSAF (dual stream attention fusion) is bidirectional cross-attention: every view's tokens attend to every
other view's tokens, causal and windowed. With two views that is the paper's pair of directions (Mel from
cochleagram, cochleagram from Mel); with three, each view has two such attentions (one per other view),
whose outputs are added to its residual stream, so every pair of views is fused in both directions. Each
stream then has its own feed-forward layer, and a learned gate mixes the streams token by token.
:class:`ConcatFusion` is the ablation without DSAF.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from damer_core.model.attention import WindowedAttention
from damer_core.model.layers import FeedForward

SHORT_NAMES = {"mel": "mel", "cochleagram": "coch", "musicnn": "musicnn"}


def directions(views: tuple[str, ...]) -> list[tuple[str, str]]:
    """Ordered ``(query view, context view)`` pairs of distinct views, in view order."""
    return [(query, context) for query in views for context in views if query != context]


class DSAFBlock(nn.Module):
    """One bidirectional cross-attention block over ``V >= 2`` token streams ``{view: (B, N, d)}``.

    ``x_a += sum over b != a of attn_{a<-b}(norm_a(x_a) -> norm_b(x_b))`` (all from the block's inputs),
    then a pre-norm feed-forward layer on each stream. Attention ``a <- b`` is named ``"<a>_from_<b>"``
    with the short view names of :data:`SHORT_NAMES` (``mel_from_coch``, ``coch_from_mel``, ...).

    Streaming state: key/value caches of each direction, ``f"{name}.{direction}.keys"`` and ``.values``.
    """

    def __init__(
        self, name: str, views: tuple[str, ...], d_model: int, n_heads: int, window: int, ffn_mult: int, dropout: float
    ) -> None:
        super().__init__()
        self.views = views
        self.directions = {f"{SHORT_NAMES[a]}_from_{SHORT_NAMES[b]}": (a, b) for a, b in directions(views)}
        self.norms = nn.ModuleDict({view: nn.LayerNorm(d_model) for view in views})
        self.attention = nn.ModuleDict(
            {direction: WindowedAttention(d_model, n_heads, window, dropout) for direction in self.directions}
        )
        self.feed_forward = nn.ModuleDict({view: FeedForward(d_model, ffn_mult, dropout) for view in views})
        self.dropout = nn.Dropout(dropout)
        self.cache_names = {
            direction: (f"{name}.{direction}.keys", f"{name}.{direction}.values") for direction in self.directions
        }

    def _attention(self, direction: str) -> WindowedAttention:
        """The attention of ``direction`` as what it is (``nn.ModuleDict`` returns plain modules)."""
        return cast(WindowedAttention, self.attention[direction])

    def forward(self, tokens: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Offline over ``(B, N, d)`` token streams, one per view."""
        normed = {view: self.norms[view](tokens[view]) for view in self.views}
        mixed = dict(tokens)
        for direction, (query, context) in self.directions.items():
            mixed[query] = mixed[query] + self.dropout(self.attention[direction](normed[query], normed[context]))
        return {view: x + self.dropout(self.feed_forward[view](x)) for view, x in mixed.items()}

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """Empty key/value caches of every direction."""
        state = {}
        for direction, names in self.cache_names.items():
            for name in names:
                state[name] = self._attention(direction).init_cache(batch, device, dtype)
        return state

    def step(
        self,
        tokens: dict[str, torch.Tensor],
        mask: torch.Tensor,
        state: dict[str, torch.Tensor],
        new_state: dict[str, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """One token of each stream ``(B, 1, d)``; ``mask`` ``(B, 1, 1, window)`` as in
        :meth:`WindowedAttention.step`. Writes the updated caches to ``new_state``."""
        normed = {view: self.norms[view](tokens[view]) for view in self.views}
        mixed = dict(tokens)
        for direction, (query, context) in self.directions.items():
            keys, values = self.cache_names[direction]
            out, new_state[keys], new_state[values] = self._attention(direction).step(
                normed[query], normed[context], state[keys], state[values], mask
            )
            mixed[query] = mixed[query] + out
        return {view: x + self.feed_forward[view](x) for view, x in mixed.items()}


class GatedFusion(nn.Module):
    """``out(sum_v g_v * x_v)`` with per-channel, per-token weights ``g = softmax_v([gate([x_1; ...; x_V]); 0])``
    (the last view's logit is fixed at 0). With two views this is ``g * x_1 + (1 - g) * x_2``,
    ``g = sigmoid(gate([x_1; x_2]))``.

    Shapes: ``V`` tensors ``(B, N, d)`` -> ``(B, N, d)``. Stateless, so the same call serves streaming.
    """

    def __init__(self, d_model: int, n_views: int) -> None:
        super().__init__()
        self.n_views = n_views
        self.gate = nn.Linear(n_views * d_model, (n_views - 1) * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, streams: list[torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack(streams, dim=-2)  # (B, N, V, d)
        logits = self.gate(stacked.flatten(-2)).unflatten(-1, (self.n_views - 1, -1))
        logits = torch.cat((logits, torch.zeros_like(logits[..., :1, :])), dim=-2)
        return self.out((torch.softmax(logits, dim=-2) * stacked).sum(dim=-2))


class ConcatFusion(nn.Module):
    """``Linear([x_1; ...; x_V])``: the fusion without cross-attention or gate. ``V x (B,N,d) -> (B,N,d)``."""

    def __init__(self, d_model: int, n_views: int) -> None:
        super().__init__()
        self.out = nn.Linear(n_views * d_model, d_model)

    def forward(self, streams: list[torch.Tensor]) -> torch.Tensor:
        return self.out(torch.cat(streams, dim=-1))

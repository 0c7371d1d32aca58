"""Fusion of the Mel and cochleagram token streams.

DSAF (dual stream attention fusion): Mel tokens attend to cochleagram tokens and cochleagram tokens attend
to Mel tokens, causal and windowed, each followed by a feed-forward layer; then a learned gate mixes the two
streams token by token. :class:`ConcatFusion` is the ablation without DSAF.
"""

from __future__ import annotations

import torch
from torch import nn

from damer_core.model.attention import WindowedAttention
from damer_core.model.layers import FeedForward


class DSAFBlock(nn.Module):
    """One bidirectional cross-attention block: ``(mel (B,N,d), coch (B,N,d)) -> (mel, coch)``.

    ``mel += attn(norm(mel) -> norm(coch))``, ``coch += attn(norm(coch) -> norm(mel))`` (both from the
    block's inputs), then a pre-norm feed-forward layer on each stream.

    Streaming state: key/value caches of each direction, ``f"{name}.mel_from_coch.keys"`` etc.
    """

    def __init__(self, name: str, d_model: int, n_heads: int, window: int, ffn_mult: int, dropout: float) -> None:
        super().__init__()
        self.norm_mel = nn.LayerNorm(d_model)
        self.norm_coch = nn.LayerNorm(d_model)
        self.mel_from_coch = WindowedAttention(d_model, n_heads, window, dropout)
        self.coch_from_mel = WindowedAttention(d_model, n_heads, window, dropout)
        self.ff_mel = FeedForward(d_model, ffn_mult, dropout)
        self.ff_coch = FeedForward(d_model, ffn_mult, dropout)
        self.dropout = nn.Dropout(dropout)
        self.cache_names = {
            direction: (f"{name}.{direction}.keys", f"{name}.{direction}.values")
            for direction in ("mel_from_coch", "coch_from_mel")
        }

    def forward(self, mel: torch.Tensor, coch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Offline over ``(B, N, d)`` token streams."""
        mel_in, coch_in = self.norm_mel(mel), self.norm_coch(coch)
        mel = mel + self.dropout(self.mel_from_coch(mel_in, coch_in))
        coch = coch + self.dropout(self.coch_from_mel(coch_in, mel_in))
        return mel + self.dropout(self.ff_mel(mel)), coch + self.dropout(self.ff_coch(coch))

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """Empty key/value caches of both directions."""
        state = {}
        for direction, names in self.cache_names.items():
            attention = getattr(self, direction)
            for name in names:
                state[name] = attention.init_cache(batch, device, dtype)
        return state

    def step(
        self,
        mel: torch.Tensor,
        coch: torch.Tensor,
        mask: torch.Tensor,
        state: dict[str, torch.Tensor],
        new_state: dict[str, torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One token of each stream ``(B, 1, d)``; ``mask`` ``(B, 1, 1, window)`` as in
        :meth:`WindowedAttention.step`. Writes the updated caches to ``new_state``."""
        mel_in, coch_in = self.norm_mel(mel), self.norm_coch(coch)
        keys, values = self.cache_names["mel_from_coch"]
        mixed, new_state[keys], new_state[values] = self.mel_from_coch.step(
            mel_in, coch_in, state[keys], state[values], mask
        )
        mel = mel + mixed
        keys, values = self.cache_names["coch_from_mel"]
        mixed, new_state[keys], new_state[values] = self.coch_from_mel.step(
            coch_in, mel_in, state[keys], state[values], mask
        )
        coch = coch + mixed
        return mel + self.ff_mel(mel), coch + self.ff_coch(coch)


class GatedFusion(nn.Module):
    """``out(g * mel + (1 - g) * coch)`` with ``g = sigmoid(gate([mel; coch]))`` per channel and token.

    Shapes: ``(B, N, d), (B, N, d) -> (B, N, d)``. Stateless, so the same call serves streaming.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.gate = nn.Linear(2 * d_model, d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, mel: torch.Tensor, coch: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.gate(torch.cat((mel, coch), dim=-1)))
        return self.out(torch.lerp(coch, mel, gate))


class ConcatFusion(nn.Module):
    """``Linear([mel; coch])``: the fusion without cross-attention or gate. ``(B,N,d),(B,N,d) -> (B,N,d)``."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.out = nn.Linear(2 * d_model, d_model)

    def forward(self, mel: torch.Tensor, coch: torch.Tensor) -> torch.Tensor:
        return self.out(torch.cat((mel, coch), dim=-1))

"""Output heads: valence/arousal with high/low logits, the per-view heads, the contrastive embedding."""

from __future__ import annotations

import torch
from torch import nn


class EmotionHead(nn.Module):
    """``(B, N, d) -> (va (B, N, 2) in [-1, 1], logits (B, N, 2))``, both ordered [valence, arousal].

    One linear map of the normalised input gives four numbers: ``tanh`` of the first two is the
    valence/arousal estimate, the last two are the logits of "high" for each dimension.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.linear = nn.Linear(d_model, 4)

    def forward(self, x: torch.Tensor, prior: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``prior`` ``(B, N, 4)``, when given, is added to the four numbers before the squashing."""
        out = self.linear(self.norm(x))
        if prior is not None:
            out = out + prior
        return torch.tanh(out[..., :2]), out[..., 2:]


class EmbeddingHead(nn.Module):
    """Projection for the contrastive memory: ``(B, N, d) -> (B, N, embed_dim)``, unit L2 norm."""

    def __init__(self, d_model: int, embed_dim: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.out(nn.functional.gelu(self.hidden(x), approximate="tanh")), dim=-1)


def window_mean(x: torch.Tensor, window: int) -> torch.Tensor:
    """Causal mean of each token with the ``window - 1`` tokens before it (fewer at the start).

    Shapes: ``(B, N, d) -> (B, N, d)``. Output ``n`` is the mean of ``x[:, max(0, n - window + 1) : n + 1]``.
    """
    n_tokens = x.shape[1]
    padded = nn.functional.pad(x, (0, 0, window - 1, 0))
    sums = padded.unfold(1, window, 1).sum(dim=-1)
    counts = torch.arange(1, n_tokens + 1, device=x.device, dtype=x.dtype).clamp(max=window)
    return sums / counts[:, None]

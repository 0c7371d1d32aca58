"""Per-view encoder: fixed input normalisation, patching of frames into tokens, causal dilated conv blocks.

Each conv block needs ``(kernel_size - 1) * dilation`` tokens of left context (its delay in the
cached-conv sense); offline that context is zero padding, in streaming it is a cache of the block's last
inputs that starts at zero, so both forms compute the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import torch
from torch import nn

from damer_core.model.layers import FeedForward


class CausalConvBlock(nn.Module):
    """``x + FeedForward(depthwise causal conv(x))`` over tokens, ``(B, N, d) -> (B, N, d)``.

    The depthwise conv has ``kernel_size`` taps spaced ``dilation`` tokens apart, the last one on the
    current token.
    """

    def __init__(self, d_model: int, kernel_size: int, dilation: int, ffn_mult: int, dropout: float) -> None:
        super().__init__()
        self.dilation = dilation
        self.context = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(d_model, d_model, kernel_size, dilation=dilation, groups=d_model)
        self.mlp = FeedForward(d_model, ffn_mult, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Offline over ``(B, N, d)`` tokens."""
        mixed = self.conv(nn.functional.pad(x.transpose(1, 2), (self.context, 0))).transpose(1, 2)
        return x + self.dropout(self.mlp(mixed))

    def init_cache(self, batch: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """Empty left context ``(B, context, d)`` (the zero padding of the offline form)."""
        return torch.zeros(batch, self.context, self.conv.in_channels, device=device, dtype=dtype)

    def step(self, x: torch.Tensor, cache: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One token ``(B, 1, d)`` with the cache of the previous ``context`` inputs; returns (output, cache)."""
        span = torch.cat((cache, x), dim=1)
        taps = span[:, :: self.dilation]
        bias = cast(torch.Tensor, self.conv.bias)  # the conv is built with a bias
        mixed = (taps * self.conv.weight.squeeze(1).t()).sum(dim=1, keepdim=True) + bias
        return x + self.mlp(mixed), span[:, 1:]


class ViewEncoder(nn.Module):
    """Frames of one view ``(B, T, n_bins)`` -> tokens ``(B, T // frames_per_token, d)``.

    Buffers (saved with the weights): ``mean``, ``std`` ``(n_bins,)``, the fixed per-bin input
    normalisation ``(x - mean) / std`` set from training-data statistics (defaults 0 and 1). Each token is a
    linear map of ``frames_per_token`` consecutive normalised frames, followed by ``n_blocks`` causal conv
    blocks with dilations ``1, 2, 4, ...``. Trailing frames that do not fill a token are ignored.

    Streaming state: one cache per block under ``f"{name}.conv{i}"``.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        name: str,
        n_bins: int,
        frames_per_token: int,
        d_model: int,
        n_blocks: int,
        kernel_size: int,
        ffn_mult: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.n_bins = n_bins
        self.frames_per_token = frames_per_token
        self.register_buffer("mean", torch.zeros(n_bins))
        self.register_buffer("std", torch.ones(n_bins))
        self.patch = nn.Linear(frames_per_token * n_bins, d_model)
        self.blocks = nn.ModuleList(
            CausalConvBlock(d_model, kernel_size, 2**i, ffn_mult, dropout) for i in range(n_blocks)
        )
        self.cache_names = [f"{name}.conv{i}" for i in range(n_blocks)]

    def _conv_blocks(self) -> Iterable[CausalConvBlock]:
        """``blocks`` as what they are (``nn.ModuleList`` iterates as plain modules)."""
        return cast("Iterable[CausalConvBlock]", self.blocks)

    def _tokens(self, frames: torch.Tensor) -> torch.Tensor:
        batch, n_frames, _ = frames.shape
        n_tokens = n_frames // self.frames_per_token
        used = frames[:, : n_tokens * self.frames_per_token]
        normalised = (used - self.mean) / self.std
        return self.patch(normalised.reshape(batch, n_tokens, self.frames_per_token * self.n_bins))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Offline: ``(B, T, n_bins) -> (B, T // frames_per_token, d)``."""
        x = self._tokens(frames)
        for block in self.blocks:
            x = block(x)
        return x

    def init_state(self, batch: int, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """Zeroed conv caches."""
        return {
            name: block.init_cache(batch, device, dtype)
            for name, block in zip(self.cache_names, self._conv_blocks(), strict=True)
        }

    def step(
        self, frames: torch.Tensor, state: dict[str, torch.Tensor], new_state: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """One token from ``(B, frames_per_token, n_bins)`` frames; writes the updated caches to ``new_state``."""
        x = self._tokens(frames)
        for name, block in zip(self.cache_names, self._conv_blocks(), strict=True):
            x, new_state[name] = block.step(x, state[name])
        return x

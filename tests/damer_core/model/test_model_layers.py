"""The model's numerical building blocks against straightforward float64 references."""

from __future__ import annotations

import math

import pytest
import torch

from damer_core.model.attention import WindowedAttention, alibi_slopes, windowed_attention
from damer_core.model.encoder import CausalConvBlock
from damer_core.model.heads import window_mean


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Loop over queries in float64: softmax over keys i-W+1..i of q.k/sqrt(dh) + bias[h, i-j]."""
    q, k, v, bias = q.double(), k.double(), v.double(), bias.double()
    window = bias.shape[1]
    out = torch.zeros_like(q)
    for i in range(q.shape[2]):
        first = max(0, i - window + 1)
        scores = q[:, :, i : i + 1] @ k[:, :, first : i + 1].transpose(-1, -2) / math.sqrt(q.shape[-1])
        distances = i - torch.arange(first, i + 1)
        scores = scores + bias[:, distances][None, :, None, :]
        out[:, :, i] = (torch.softmax(scores, dim=-1) @ v[:, :, first : i + 1])[:, :, 0]
    return out


@pytest.mark.parametrize(
    ("n_tokens", "window"), [(1, 1), (7, 7), (6, 9), (40, 9), (37, 1), (50, 16), (1, 16), (17, 16), (33, 16), (64, 16)]
)
def test_windowed_attention_matches_loop(n_tokens: int, window: int, rel_err) -> None:
    generator = torch.Generator().manual_seed(n_tokens * 100 + window)
    q, k, v = (torch.randn(2, 3, n_tokens, 8, generator=generator) for _ in range(3))
    bias = torch.randn(3, window, generator=generator)
    assert rel_err(windowed_attention(q, k, v, bias), reference_attention(q, k, v, bias)) < 1e-6


def test_alibi_initialisation_is_a_recency_bias() -> None:
    attention = WindowedAttention(d_model=16, n_heads=4, window=10, dropout=0.0)
    slopes = alibi_slopes(4)
    assert torch.allclose(slopes, torch.tensor([2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8]))
    assert torch.equal(attention.distance_bias[:, 3], -3 * slopes)


@pytest.mark.parametrize(("n_tokens", "window"), [(1, 4), (5, 1), (30, 7), (12, 12)])
def test_window_mean_matches_loop(n_tokens: int, window: int, rel_err) -> None:
    x = torch.randn(2, n_tokens, 5, generator=torch.Generator().manual_seed(n_tokens))
    expected = torch.stack([x[:, max(0, n - window + 1) : n + 1].double().mean(dim=1) for n in range(n_tokens)], dim=1)
    assert rel_err(window_mean(x, window), expected) < 1e-6


@pytest.mark.parametrize(("kernel_size", "dilation"), [(3, 1), (3, 4), (2, 8), (1, 1), (5, 2)])
def test_causal_conv_block_matches_loop(kernel_size: int, dilation: int, rel_err) -> None:
    torch.manual_seed(kernel_size * 10 + dilation)
    block = CausalConvBlock(d_model=6, kernel_size=kernel_size, dilation=dilation, ffn_mult=2, dropout=0.0).eval()
    x = torch.randn(2, 25, 6)
    weight, bias = block.conv.weight.double()[:, 0], block.conv.bias.double()
    mixed = torch.zeros(2, 25, 6, dtype=torch.float64)
    for t in range(25):
        mixed[:, t] = bias
        for j in range(kernel_size):
            source = t - (kernel_size - 1 - j) * dilation
            if source >= 0:
                mixed[:, t] += weight[:, j] * x[:, source].double()
    expected = x.double() + block.mlp.double()(mixed)
    block.float()
    assert rel_err(block(x), expected) < 1e-6

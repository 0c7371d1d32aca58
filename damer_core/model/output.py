"""DamerOutput: what the model returns for each token."""

from __future__ import annotations

from typing import NamedTuple

import torch


class DamerOutput(NamedTuple):
    """Per-token outputs; ``N`` tokens, all ordered [valence, arousal] on the last axis where it has 2.

    Attributes:
        va: ``(B, N, 2)`` valence and arousal estimates in [-1, 1].
        logits: ``(B, N, 2)`` logits of "high" valence and "high" arousal (the binary task).
        embedding: ``(B, N, embed_dim)`` unit-norm embedding for the contrastive memory.
        view_va: view name -> ``(B, N, 2)``, the estimate of that view's encoder alone.
        view_logits: view name -> ``(B, N, 2)``, the high/low logits of that view's encoder alone.
    """

    va: torch.Tensor
    logits: torch.Tensor
    embedding: torch.Tensor
    view_va: dict[str, torch.Tensor]
    view_logits: dict[str, torch.Tensor]


def concat_outputs(outputs: list[DamerOutput]) -> DamerOutput:
    """Join outputs along the token axis (``N``); ``outputs`` must not be empty."""
    if len(outputs) == 1:
        return outputs[0]
    views = outputs[0].view_va.keys()
    return DamerOutput(
        va=torch.cat([o.va for o in outputs], dim=1),
        logits=torch.cat([o.logits for o in outputs], dim=1),
        embedding=torch.cat([o.embedding for o in outputs], dim=1),
        view_va={v: torch.cat([o.view_va[v] for o in outputs], dim=1) for v in views},
        view_logits={v: torch.cat([o.view_logits[v] for o in outputs], dim=1) for v in views},
    )


def empty_output(
    batch: int, embed_dim: int, views: tuple[str, ...], device: torch.device, dtype: torch.dtype
) -> DamerOutput:
    """Outputs of zero tokens (``N == 0``), for a push that completed no token."""

    def empty(width: int) -> torch.Tensor:
        return torch.zeros(batch, 0, width, device=device, dtype=dtype)

    return DamerOutput(
        va=empty(2),
        logits=empty(2),
        embedding=empty(embed_dim),
        view_va={v: empty(2) for v in views},
        view_logits={v: empty(2) for v in views},
    )

"""musicnn as a teacher: distillation of its embedding into the model, and its linear probe as a source of
pseudo-labels.

The recipe's features carry the musicnn view (one embedding per frame, :mod:`damer_core.features.musicnn_view`,
the embedding of the last few seconds as MSD_musicnn sees them). For each token the target is that view at
the token's last frame, standardised with the training-data statistics. Three parts:

* **distillation**: a linear map of the fused token stream (what the emotion head reads) must predict the
  target (squared error, ``weight``); so must a linear map of each other view's windowed tokens (what its
  per-view head reads, ``view_weight``). The Mel and cochleagram encoders thus learn to carry what musicnn
  hears, from all the audio of the run, labelled or not.
* **probe**: a linear map of the standardised musicnn view to high/low logits, trained on the labelled
  tokens with binary cross-entropy on a detached input (``probe_weight``): a logistic regression on musicnn's
  embedding, learnt along the way.
* **probe pseudo-labels**: from ``probe_start_step``, unlabelled entries (valid tokens without a label, as in
  :mod:`train.pcl`) where the probe is confident (``|2p - 1| >= probe_threshold``) train the student's fused
  logits towards the probe's p(high) (``probe_pseudo_weight``).

The model's hidden streams are read by forward pre-hooks on its emotion heads (registered by
:class:`Distiller` on the student only), so the model's interface does not change; the linear maps and the
probe belong to the run, not to the exported model.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from damer_core.model import DamerModel, DamerOutput
from train.losses import label_weights, weighted_mean
from train.recipe import DistillConfig


def token_targets(musicnn: torch.Tensor, frames_per_token: int, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """The standardised musicnn view at each token's last frame: ``(B, T, D) -> (B, T // frames_per_token, D)``."""
    n_tokens = musicnn.shape[1] // frames_per_token
    last = musicnn[:, frames_per_token - 1 : n_tokens * frames_per_token : frames_per_token]
    return (last - mean) / std


class Distiller(nn.Module):
    """The distillation maps, the probe and the hooks that read the student's hidden streams.

    Args:
        config: the recipe's distill section.
        student: the model being trained (hooks are registered on it).
        mean, std: ``(D,)`` statistics of the musicnn view over the training frames.
    """

    def __init__(self, config: DistillConfig, student: DamerModel, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.config = config
        self.frames_per_token = student.frames_per_token
        size, d_model = mean.shape[0], student.config.d_model
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.fused = nn.Linear(d_model, size)
        self.views = nn.ModuleDict({view: nn.Linear(d_model, size) for view in student.views if view != "musicnn"})
        self.probe = nn.Linear(size, 2)
        self._hidden: dict[str, torch.Tensor] = {}
        self._hooks = [student.head.register_forward_pre_hook(self._keeper("fused"))]
        self._hooks += [student.view_heads[view].register_forward_pre_hook(self._keeper(view)) for view in self.views]

    def _keeper(self, name: str):  # noqa: ANN202
        def keep(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            self._hidden[name] = inputs[0]

        return keep

    def remove_hooks(self) -> None:
        """Detach from the student."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def loss(
        self,
        student: DamerOutput,
        musicnn: torch.Tensor,
        target: torch.Tensor,
        token_weight: torch.Tensor,
        valid: torch.Tensor,
        step: int,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The distillation terms for the student's last forward pass.

        Args:
            student: its outputs ``(B, N, ...)``.
            musicnn: ``(B, T, D)`` the crops' musicnn view.
            target: ``(B, N, 2)`` valence/arousal labels, ``NaN`` = none.
            token_weight: ``(B, N)`` weight of each labelled token (see :mod:`train.losses`).
            valid: ``(B, N)`` bool, tokens inside their clip.
            step: the step number.

        Returns:
            The weighted sum and its parts ``distill``, ``distill_views``, ``probe_bce``, ``probe_pseudo_bce``
            and ``probe_accepted`` (share of candidate entries accepted).
        """
        c = self.config
        goal = token_targets(musicnn.float(), self.frames_per_token, self.mean, self.std)
        mask = valid.unsqueeze(-1).expand_as(goal).float()
        fused = weighted_mean((self.fused(self._hidden["fused"].float()) - goal) ** 2, mask)
        views = sum(
            (weighted_mean((head(self._hidden[view].float()) - goal) ** 2, mask) for view, head in self.views.items()),
            fused * 0.0,
        )
        probe_logits = self.probe(goal)
        high = (torch.nan_to_num(target, nan=0.0) > 0).float()
        probe_bce = weighted_mean(
            F.binary_cross_entropy_with_logits(probe_logits, high, reduction="none"),
            label_weights(target, token_weight),
        )
        loss = c.weight * fused + c.view_weight * views + c.probe_weight * probe_bce
        parts = {
            "distill": float(fused.detach()),
            "distill_views": float(views.detach()),
            "probe_bce": float(probe_bce.detach()),
        }
        if step >= c.probe_start_step and c.probe_pseudo_weight > 0:
            candidates = torch.isnan(target) & valid.unsqueeze(-1)
            p_high = torch.sigmoid(probe_logits.detach())
            accepted = candidates & ((2.0 * p_high - 1.0).abs() >= c.probe_threshold)
            pseudo = weighted_mean(
                F.binary_cross_entropy_with_logits(student.logits.float(), p_high, reduction="none"), accepted.float()
            )
            loss = loss + c.probe_pseudo_weight * pseudo
            parts["probe_pseudo_bce"] = float(pseudo.detach())
            parts["probe_accepted"] = float(accepted.sum()) / max(int(candidates.sum()), 1)
        self._hidden = {}
        return loss, parts

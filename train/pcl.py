"""Progressive confidence labelling (PCL): a teacher labels what has no label, and only what it is sure of.

Teacher: an exponential moving average (EMA) of the student's weights (and a copy of its buffers), run in
eval mode without gradients on the same crops as the student.

Pseudo-labels, per token and dimension (valence, arousal) of every valid token without a label (the crops of
unlabelled sources, and labelled crops where a dimension or instant has no annotation):

1. sharpen: ``p = sigmoid(logit / T)`` from the teacher's fused high/low logit, temperature ``T(step)``;
2. confidence ``c = |2p - 1|``; the entry is accepted when ``c >= threshold(step)``;
3. view consistency: the Jensen-Shannon divergence between the teacher's per-view high/low distributions
   (``sigmoid`` of the Mel-only and cochleagram-only logits, and the musicnn-only one when the model reads
   that view; no sharpening) must be ``<= js_gate``; with a single-view model there is no second view and
   this gate is open.

Accepted entries train the student with the binary cross-entropy of its fused logit against the soft target
``p`` and the squared error of its estimate against the teacher's estimate. The same divergence between the
student's own two view heads, averaged over all valid tokens and both dimensions, is a loss term
(``js_weight``) that pulls the views to agree.

Curriculum: with progress ``s = clip((step - start_step) / ramp_steps, 0, 1)`` the threshold moves from
``threshold_start`` (strict) to ``threshold_end`` and the temperature from ``temperature_start`` to
``temperature_end``, each along ``f(s) = s`` (linear) or ``(1 - cos(pi s)) / 2`` (cosine). Before
``start_step`` no pseudo-label is used.

JS divergence of two Bernoulli distributions with parameters ``p`` and ``q``, in nats (at most ln 2)::

    JS(p, q) = H((p + q) / 2) - (H(p) + H(q)) / 2,   H(x) = -x ln x - (1 - x) ln(1 - x)

and of ``V`` views with equal weights, ``H(mean_v p_v) - mean_v H(p_v)`` (the same for ``V = 2``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from damer_core.model import DamerModel, DamerOutput
from train.losses import weighted_mean
from train.recipe import PCLConfig

_TINY = 1e-12


def curve_value(start: float, end: float, curve: str, progress: float) -> float:
    """Value at curriculum ``progress`` in [0, 1] moving from ``start`` to ``end`` along ``curve``
    (``"linear"``: ``s``; ``"cosine"``: ``(1 - cos(pi s)) / 2``)."""
    s = min(max(progress, 0.0), 1.0)
    shape = s if curve == "linear" else (1.0 - math.cos(math.pi * s)) / 2.0
    return start + (end - start) * shape


def binary_entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of Bernoulli distributions with parameters ``p`` (0 at p = 0 or 1)."""
    return -(torch.xlogy(p, p) + torch.xlogy(1.0 - p, 1.0 - p))


def bernoulli_js(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Element-wise Jensen-Shannon divergence (nats) of Bernoulli(p) and Bernoulli(q); same shapes."""
    return (binary_entropy((p + q) / 2.0) - (binary_entropy(p) + binary_entropy(q)) / 2.0).clamp_min(0.0)


def view_divergence(view_logits: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """``(B, N, 2)`` JS divergence between the views' p(high) (Mel-only and cochleagram-only, plus
    musicnn-only when present; equal weights), or ``None`` when the outputs have fewer than two views."""
    if len(view_logits) < 2:
        return None
    if len(view_logits) == 2:
        return bernoulli_js(*(torch.sigmoid(logits.float()) for logits in view_logits.values()))
    p = [torch.sigmoid(logits.float()) for logits in view_logits.values()]
    mixture = sum(p) / len(p)
    return (binary_entropy(mixture) - sum(binary_entropy(x) for x in p) / len(p)).clamp_min(0.0)


@dataclass(frozen=True)
class PseudoLabels:
    """The teacher's labels for one batch, all ``(B, N, 2)`` ordered [valence, arousal].

    Attributes:
        p_high: sharpened teacher p(high), the soft target.
        va: the teacher's valence/arousal estimate.
        confidence: ``|2 p_high - 1|``.
        js: JS divergence between the teacher's two views (zeros with one view).
        candidates: entries that may receive a pseudo-label (no label, valid token).
        accepted: candidates that are confident enough and consistent.
    """

    p_high: torch.Tensor
    va: torch.Tensor
    confidence: torch.Tensor
    js: torch.Tensor
    candidates: torch.Tensor
    accepted: torch.Tensor

    def accepted_share(self) -> float:
        """Accepted entries over candidate entries (0 when there is no candidate)."""
        return float(self.accepted.sum()) / max(int(self.candidates.sum()), 1)


def pseudo_label(
    teacher: DamerOutput, candidates: torch.Tensor, threshold: float, temperature: float, js_gate: float
) -> PseudoLabels:
    """Pseudo-labels from the teacher's outputs (see the module docstring).

    Args:
        teacher: the teacher's outputs for ``B`` crops of ``N`` tokens.
        candidates: ``(B, N, 2)`` bool, the entries that may receive a pseudo-label.
        threshold: minimum confidence.
        temperature: sharpening temperature.
        js_gate: maximum view divergence (nats).
    """
    p_high = torch.sigmoid(teacher.logits.float() / temperature)
    confidence = (2.0 * p_high - 1.0).abs()
    js = view_divergence(teacher.view_logits)
    js = torch.zeros_like(p_high) if js is None else js
    accepted = candidates & (confidence >= threshold) & (js <= js_gate)
    return PseudoLabels(p_high, teacher.va.float(), confidence, js, candidates, accepted)


class PCL(nn.Module):
    """The teacher and the schedules of one run.

    Args:
        config: the PCL section of the recipe.
        student: the model being trained; the teacher starts as a copy of it.

    The teacher's weights are this module's state (``teacher.*`` in :meth:`state_dict`).
    """

    def __init__(self, config: PCLConfig, student: DamerModel) -> None:
        super().__init__()
        self.config = config
        self.teacher = copy.deepcopy(student).eval()
        self.teacher.requires_grad_(False)

    def train(self, mode: bool = True) -> PCL:
        """The teacher always stays in eval mode (no dropout)."""
        super().train(mode)
        self.teacher.eval()
        return self

    def progress(self, step: int) -> float:
        """Curriculum progress in [0, 1] at ``step``."""
        return min(max((step - self.config.start_step) / self.config.ramp_steps, 0.0), 1.0)

    def active(self, step: int) -> bool:
        """Whether pseudo-labels are used at ``step``."""
        return step >= self.config.start_step

    def threshold(self, step: int) -> float:
        """Confidence threshold at ``step``."""
        c = self.config
        return curve_value(c.threshold_start, c.threshold_end, c.threshold_curve, self.progress(step))

    def temperature(self, step: int) -> float:
        """Sharpening temperature at ``step``."""
        c = self.config
        return curve_value(c.temperature_start, c.temperature_end, c.temperature_curve, self.progress(step))

    @torch.no_grad()
    def update_teacher(self, student: DamerModel) -> None:
        """``teacher <- ema_decay * teacher + (1 - ema_decay) * student`` for parameters; buffers copied."""
        decay = self.config.ema_decay
        for teacher_p, student_p in zip(self.teacher.parameters(), student.parameters(), strict=True):
            teacher_p.lerp_(student_p.detach(), 1.0 - decay)
        for teacher_b, student_b in zip(self.teacher.buffers(), student.buffers(), strict=True):
            teacher_b.copy_(student_b)

    @torch.no_grad()
    def label(
        self,
        mel: torch.Tensor,
        coch: torch.Tensor,
        candidates: torch.Tensor,
        step: int,
        musicnn: torch.Tensor | None = None,
    ) -> PseudoLabels:
        """Run the teacher on the crops of a batch that have candidates and pseudo-label the ``candidates``
        ``(B, N, 2)`` at ``step`` (crops without candidates get no label and cost nothing). ``musicnn``: the
        crops' musicnn view, for a model that reads it."""
        rows = candidates.flatten(1).any(dim=1)
        output = self.teacher(mel[rows], coch[rows], None if musicnn is None else musicnn[rows])
        if not bool(rows.all()):
            output = _scatter_rows(output, rows)
        return pseudo_label(output, candidates, self.threshold(step), self.temperature(step), self.config.js_gate)

    def loss(
        self, student: DamerOutput, labels: PseudoLabels | None, valid: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The PCL terms of the student's loss.

        Args:
            student: the student's outputs.
            labels: this step's pseudo-labels, or ``None`` before ``start_step``.
            valid: ``(B, N)`` bool, tokens inside their clip.

        Returns:
            ``pseudo_weight * BCE + pseudo_va_weight * MSE`` on accepted entries plus ``js_weight`` times
            the student's mean view divergence; parts ``pseudo_bce``, ``pseudo_mse``, ``js``, ``accepted``
            (share of candidate entries accepted).
        """
        c = self.config
        zero = student.va.sum() * 0.0
        js = view_divergence(student.view_logits)
        consistency = zero if js is None else weighted_mean(js, valid.unsqueeze(-1).expand_as(js).float())
        loss = c.js_weight * consistency
        parts = {"js": float(consistency.detach())}
        if labels is not None:
            weight = labels.accepted.float()
            bce = F.binary_cross_entropy_with_logits(student.logits.float(), labels.p_high, reduction="none")
            bce = weighted_mean(bce, weight)
            mse = weighted_mean((student.va.float() - labels.va) ** 2, weight)
            loss = loss + c.pseudo_weight * bce + c.pseudo_va_weight * mse
            parts.update(
                pseudo_bce=float(bce.detach()), pseudo_mse=float(mse.detach()), accepted=labels.accepted_share()
            )
        return loss, parts


def _scatter_rows(output: DamerOutput, rows: torch.Tensor) -> DamerOutput:
    """Outputs of a subset of crops placed at ``rows`` (bool ``(B,)``) of a zero batch of ``B`` crops."""

    def place(x: torch.Tensor) -> torch.Tensor:
        full = x.new_zeros((rows.shape[0], *x.shape[1:]))
        full[rows] = x
        return full

    return DamerOutput(
        place(output.va),
        place(output.logits),
        place(output.embedding),
        {view: place(x) for view, x in output.view_va.items()},
        {view: place(x) for view, x in output.view_logits.items()},
    )

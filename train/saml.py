"""Style-anchored memory learning (SAML): a contrastive memory of crop embeddings with per-style anchors.

The paper describes SAML as "a contrastive memory queue with style anchors that counters cross-track
feature drift". Here that is three parts, all on crop embeddings (the mean of the model's unit-norm token
embeddings over a crop's valid tokens, renormalised) labelled with the crop's emotion class (the Russell
quadrant of its mean targets; crops without both dimensions labelled take no part):

* **Memory queue** (:class:`MemoryQueue`): a FIFO ring of the last ``queue_size`` crop embeddings (detached)
  with their class, track and style, so each step compares its crops with many more tracks than fit in one
  batch.
* **Contrastive loss** (:func:`contrastive_loss`, supervised-contrastive form): for each crop of the batch,
  the positives are memory and batch items of the *same class from a different track*, the negatives the
  items of *another class*; same-track items of the same class are neither (so the loss cannot be lowered
  by recognising a track). Loss per crop: ``-mean_p log(exp(z.k_p / t) / sum_{a in P or N} exp(z.k_a / t))``.
  This pulls same-emotion embeddings of different tracks and styles together and pushes different
  emotions apart.
* **Style anchors** (:class:`StyleAnchors`): a prototype per (style, class), where the style is a crop's
  source (dataset) or its track (``anchor_by``), updated with momentum from each batch. The *emotion anchor*
  of a class is the normalised mean of that class's prototypes over every style, each style weighing the
  same however many crops it has. The anchoring loss (:func:`anchor_loss`) is a softmax over the emotion
  anchors that pulls each embedding to its class's anchor and away from the others. A style (or track)
  whose embeddings drift away from the others' for the same emotion is pulled back to the shared,
  style-balanced centre: this is how the module counters cross-track feature drift.

In multi-process training the caller gathers every process's crops before :meth:`SAML.update`, so the
memory and anchors are the same in every process.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from train.recipe import SAMLConfig

N_CLASSES = 4


def crop_embeddings(embedding: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``(B, N, E)`` token embeddings and ``(B, N)`` valid mask -> ``(B, E)`` unit-norm crop embeddings."""
    weights = valid.to(embedding.dtype).unsqueeze(-1)
    summed = (embedding * weights).sum(dim=1)
    return F.normalize(summed.float(), dim=-1)


def crop_classes(target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Quadrant index 0..3 (Q1..Q4) of each crop's mean valid targets, -1 when a dimension has none.

    Args:
        target: ``(B, N, 2)`` [valence, arousal] targets, ``NaN`` = none.
        valid: ``(B, N)`` bool.
    """
    known = ~torch.isnan(target) & valid.unsqueeze(-1)
    counts = known.sum(dim=1)
    means = torch.where(known, target, 0.0).sum(dim=1) / counts.clamp_min(1)
    high_v, high_a = means[:, 0] > 0, means[:, 1] > 0
    quadrant = torch.where(high_a, torch.where(high_v, 0, 1), torch.where(high_v, 3, 2))
    return torch.where((counts > 0).all(dim=1), quadrant, -1).long()


class MemoryQueue(nn.Module):
    """FIFO ring of ``size`` embeddings with class, track and style ids (buffers, saved in checkpoints).

    Slots never written have class -1. :meth:`enqueue` writes at the pointer and wraps around; when more
    items arrive at once than the ring holds, only the newest ``size`` are kept.
    """

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("embeddings", torch.zeros(size, dim))
        self.register_buffer("classes", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("tracks", torch.zeros(size, dtype=torch.long))
        self.register_buffer("styles", torch.zeros(size, dtype=torch.long))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def enqueue(
        self, embeddings: torch.Tensor, classes: torch.Tensor, tracks: torch.Tensor, styles: torch.Tensor
    ) -> None:
        """Append ``n`` items: ``embeddings (n, E)``, ``classes``, ``tracks``, ``styles`` ``(n,)``."""
        n = embeddings.shape[0]
        if n == 0:
            return
        if n > self.size:
            embeddings, classes, tracks, styles = (x[n - self.size :] for x in (embeddings, classes, tracks, styles))
            n = self.size
        slots = (self.pointer + torch.arange(n, device=self.pointer.device)) % self.size
        self.embeddings[slots] = embeddings.detach().to(self.embeddings.dtype)
        self.classes[slots] = classes
        self.tracks[slots] = tracks
        self.styles[slots] = styles
        self.pointer.copy_((self.pointer + n) % self.size)

    def items(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(embeddings (K, E), classes (K,), tracks (K,))`` of the filled slots, in slot order."""
        filled = self.classes >= 0
        return self.embeddings[filled], self.classes[filled], self.tracks[filled]


class StyleAnchors(nn.Module):
    """Momentum prototypes per (style, class) and the style-balanced emotion anchors built from them.

    Buffers: ``prototypes`` ``(n_styles, 4, E)`` unit vectors, ``seen`` ``(n_styles, 4)`` bool.
    """

    def __init__(self, n_styles: int, dim: int, momentum: float) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("prototypes", torch.zeros(n_styles, N_CLASSES, dim))
        self.register_buffer("seen", torch.zeros(n_styles, N_CLASSES, dtype=torch.bool))

    @torch.no_grad()
    def update(self, embeddings: torch.Tensor, classes: torch.Tensor, styles: torch.Tensor) -> None:
        """For each (style, class) present in the batch: ``prototype <- normalise(m * prototype + (1 - m) *
        mean of its embeddings)``; the first batch that shows a pair sets its prototype to that mean."""
        keep = classes >= 0
        embeddings, classes, styles = embeddings[keep].float(), classes[keep], styles[keep]
        pairs = torch.stack((styles, classes), dim=1)
        for style, klass in torch.unique(pairs, dim=0).tolist():
            members = (styles == style) & (classes == klass)
            mean = F.normalize(embeddings[members].mean(dim=0), dim=0)
            if bool(self.seen[style, klass]):
                mean = F.normalize(self.momentum * self.prototypes[style, klass] + (1.0 - self.momentum) * mean, dim=0)
            self.prototypes[style, klass] = mean
            self.seen[style, klass] = True

    def emotion_anchors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(anchors (4, E), present (4,) bool)``: per class, the normalised mean of the prototypes of every
        style that has shown that class."""
        counts = self.seen.sum(dim=0)
        sums = (self.prototypes * self.seen.unsqueeze(-1)).sum(dim=0)
        return F.normalize(sums, dim=-1), counts > 0


def contrastive_loss(
    embeddings: torch.Tensor,
    classes: torch.Tensor,
    tracks: torch.Tensor,
    keys: torch.Tensor,
    key_classes: torch.Tensor,
    key_tracks: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """Supervised contrastive loss of the batch against ``keys`` (see the module docstring).

    Args:
        embeddings: ``(B, E)`` unit-norm crop embeddings; ``classes``, ``tracks`` ``(B,)``; class -1 = none.
        keys: ``(K, E)`` unit-norm embeddings (the memory, detached); ``key_classes``, ``key_tracks`` ``(K,)``.
            The batch itself is added to the keys (with gradient), each crop excluded from its own set.
        temperature: softmax temperature.

    Returns:
        Mean over the crops with at least one positive; 0 when there is none.
    """
    all_keys = torch.cat((embeddings, keys.to(embeddings.dtype)))
    all_classes = torch.cat((classes, key_classes))
    all_tracks = torch.cat((tracks, key_tracks))
    logits = embeddings @ all_keys.t() / temperature
    labelled = (classes >= 0).unsqueeze(1) & (all_classes >= 0).unsqueeze(0)
    same_class = classes.unsqueeze(1) == all_classes.unsqueeze(0)
    not_self = torch.ones_like(logits, dtype=torch.bool)
    not_self[:, : embeddings.shape[0]].fill_diagonal_(False)
    positive = labelled & same_class & (tracks.unsqueeze(1) != all_tracks.unsqueeze(0)) & not_self
    negative = labelled & ~same_class
    contrast = torch.logsumexp(logits.masked_fill(~(positive | negative), -torch.inf), dim=1, keepdim=True)
    n_positive = positive.sum(dim=1)
    has_positive = n_positive > 0
    if not bool(has_positive.any()):
        return embeddings.sum() * 0.0
    log_prob = torch.where(positive, logits - contrast, 0.0)
    per_crop = -log_prob.sum(dim=1)[has_positive] / n_positive[has_positive]
    return per_crop.mean()


def anchor_loss(
    embeddings: torch.Tensor, classes: torch.Tensor, anchors: torch.Tensor, present: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Cross-entropy of a softmax over the present emotion anchors (``anchors (4, E)``, ``present (4,)``)
    with each labelled crop's class as the target; 0 when no labelled crop's class has an anchor."""
    use = (classes >= 0) & present[classes.clamp_min(0)]
    if not bool(use.any()):
        return embeddings.sum() * 0.0
    logits = embeddings[use] @ anchors.to(embeddings.dtype).t() / temperature
    logits = logits.masked_fill(~present.unsqueeze(0), -torch.inf)
    return F.cross_entropy(logits, classes[use])


class SAML(nn.Module):
    """The memory queue, the style anchors and the two losses of one run.

    Args:
        config: the SAML section of the recipe.
        n_styles: number of style ids (sources, or clips when ``anchor_by == "track"``).
        dim: embedding size.
    """

    def __init__(self, config: SAMLConfig, n_styles: int, dim: int) -> None:
        super().__init__()
        self.config = config
        self.queue = MemoryQueue(config.queue_size, dim)
        self.anchors = StyleAnchors(n_styles, dim, config.anchor_momentum)

    def loss(
        self, embeddings: torch.Tensor, classes: torch.Tensor, tracks: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``contrastive_weight * contrastive + anchor_weight * anchoring`` against the current memory and
        anchors (call before :meth:`update` with the same crops). Parts: ``saml_contrast``, ``saml_anchor``."""
        keys, key_classes, key_tracks = self.queue.items()
        contrast = contrastive_loss(embeddings, classes, tracks, keys, key_classes, key_tracks, self.config.temperature)
        anchors, present = self.anchors.emotion_anchors()
        anchoring = anchor_loss(embeddings, classes, anchors, present, self.config.anchor_temperature)
        loss = self.config.contrastive_weight * contrast + self.config.anchor_weight * anchoring
        return loss, {"saml_contrast": float(contrast.detach()), "saml_anchor": float(anchoring.detach())}

    @torch.no_grad()
    def update(
        self, embeddings: torch.Tensor, classes: torch.Tensor, tracks: torch.Tensor, styles: torch.Tensor
    ) -> None:
        """Add the (labelled) crops to the memory and move their styles' prototypes."""
        keep = classes >= 0
        self.queue.enqueue(embeddings[keep], classes[keep], tracks[keep], styles[keep])
        self.anchors.update(embeddings, classes, styles)

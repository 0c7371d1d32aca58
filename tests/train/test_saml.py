"""SAML: the memory ring wraps, the contrastive and anchoring losses equal hand-computed values and prefer
aligned embeddings, the style anchors move with momentum and weigh every style the same."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from train.recipe import SAMLConfig
from train.saml import SAML, MemoryQueue, StyleAnchors, anchor_loss, contrastive_loss, crop_classes, crop_embeddings


def items(n: int, first: int) -> tuple[torch.Tensor, ...]:
    """``n`` items whose embedding, class, track and style all encode their id ``first + i``."""
    ids = torch.arange(first, first + n)
    return ids.float().unsqueeze(1).repeat(1, 3), ids % 4, ids, ids + 100


def test_queue_is_a_fifo_ring_that_wraps() -> None:
    queue = MemoryQueue(5, 3)
    assert queue.items()[0].shape == (0, 3)
    queue.enqueue(*items(3, 0))
    queue.enqueue(*items(4, 3))  # ids 3, 4 fill slots 3, 4; ids 5, 6 wrap to slots 0, 1
    assert queue.tracks.tolist() == [5, 6, 2, 3, 4]
    assert queue.styles.tolist() == [105, 106, 102, 103, 104]
    assert int(queue.pointer) == 2
    embeddings, classes, tracks = queue.items()
    assert embeddings[:, 0].tolist() == [5.0, 6.0, 2.0, 3.0, 4.0] and classes.tolist() == [1, 2, 2, 3, 0]
    queue.enqueue(*items(7, 10))  # more than the ring holds: the newest five (12..16) from the pointer on
    assert queue.tracks.tolist() == [15, 16, 12, 13, 14] and int(queue.pointer) == 2
    queue.enqueue(*items(0, 50))
    assert int(queue.pointer) == 2


def test_partly_filled_queue_returns_only_written_slots() -> None:
    queue = MemoryQueue(4, 3)
    queue.enqueue(*items(2, 7))
    assert queue.items()[2].tolist() == [7, 8]


def test_contrastive_loss_equals_the_hand_computed_value() -> None:
    angle = [0.0, 0.3, 2.0, 0.1, 1.0]
    vectors = torch.tensor([[math.cos(a), math.sin(a)] for a in angle])
    batch, keys = vectors[:2], vectors[2:]
    classes, tracks = torch.tensor([0, 1]), torch.tensor([10, 11])
    key_classes, key_tracks = torch.tensor([1, 0, 0]), torch.tensor([12, 10, 13])
    t = 0.5
    loss = contrastive_loss(batch, classes, tracks, keys, key_classes, key_tracks, t)

    def s(i: int, j: int) -> float:
        return math.cos(angle[i] - angle[j]) / t

    # Crop 0 (class 0, track 10): keys are batch item 1 (class 1), memory 2 (class 1), 3 (class 0, same track:
    # excluded), 4 (class 0, track 13: positive). Crop 1 (class 1, track 11): positive memory 2; negatives 0, 3, 4.
    loss0 = -(s(0, 4) - math.log(sum(math.exp(s(0, j)) for j in (1, 2, 4))))
    loss1 = -(s(1, 2) - math.log(sum(math.exp(s(1, j)) for j in (0, 2, 3, 4))))
    assert float(loss) == pytest.approx((loss0 + loss1) / 2, abs=1e-5)


def test_contrastive_loss_is_zero_without_positives() -> None:
    batch = F.normalize(torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    classes, tracks = torch.tensor([0, 1, -1]), torch.tensor([0, 1, 2])
    empty = torch.zeros(0, 4)
    none = torch.zeros(0, dtype=torch.long)
    assert float(contrastive_loss(batch, classes, tracks, empty, none, none, 0.1)) == 0.0


def clustered(rng: np.random.Generator, classes: np.ndarray, centres: np.ndarray, spread: float) -> torch.Tensor:
    points = centres[classes] + spread * rng.standard_normal((classes.size, centres.shape[1]))
    return F.normalize(torch.tensor(points, dtype=torch.float32), dim=1)


def test_losses_are_lower_for_aligned_than_for_shuffled_embeddings() -> None:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((4, 16))
    memory_classes, batch_classes = rng.integers(0, 4, 64), np.repeat(np.arange(4), 4)
    saml = SAML(SAMLConfig(queue_size=64, contrastive_weight=1.0, anchor_weight=1.0), n_styles=3, dim=16)
    memory = clustered(rng, memory_classes, centres, 0.3)
    saml.update(memory, torch.tensor(memory_classes), torch.arange(64) + 100, torch.tensor(memory_classes % 3))
    batch = clustered(rng, batch_classes, centres, 0.3)
    classes, tracks = torch.tensor(batch_classes), torch.arange(16)
    aligned, aligned_parts = saml.loss(batch, classes, tracks)
    shuffled, shuffled_parts = saml.loss(batch[torch.from_numpy(rng.permutation(16))], classes, tracks)
    assert float(aligned) < 0.5 * float(shuffled)
    assert aligned_parts["saml_contrast"] < shuffled_parts["saml_contrast"]
    assert aligned_parts["saml_anchor"] < shuffled_parts["saml_anchor"]


def test_style_prototypes_move_with_momentum_and_anchors_weigh_styles_equally() -> None:
    anchors = StyleAnchors(n_styles=2, dim=2, momentum=0.75)
    e = torch.eye(2)
    # Style 0 shows class 2 three times along x; style 1 shows it once along y.
    anchors.update(torch.stack([e[0], e[0], e[0], e[1]]), torch.tensor([2, 2, 2, 2]), torch.tensor([0, 0, 0, 1]))
    centre, present = anchors.emotion_anchors()
    assert present.tolist() == [False, False, True, False]
    torch.testing.assert_close(centre[2], F.normalize(torch.tensor([1.0, 1.0]), dim=0))  # not pulled to x by 3:1
    anchors.update(torch.stack([e[1]]), torch.tensor([2]), torch.tensor([0]))
    moved = F.normalize(0.75 * e[0] + 0.25 * e[1], dim=0)
    torch.testing.assert_close(anchors.prototypes[0, 2], moved)
    anchors.update(torch.stack([e[0]]), torch.tensor([-1]), torch.tensor([1]))  # unlabelled: ignored
    torch.testing.assert_close(anchors.prototypes[1, 2], e[1])


def test_anchor_loss_is_a_softmax_over_present_anchors() -> None:
    anchors = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]), dim=1)
    present = torch.tensor([True, True, False, True])
    z = F.normalize(torch.tensor([[1.0, 0.5]]), dim=1)
    value = anchor_loss(z, torch.tensor([1]), anchors, present, 0.5)
    logits = [float(z[0] @ anchors[c]) / 0.5 for c in (0, 1, 3)]
    expected = -(logits[1] - math.log(sum(math.exp(x) for x in logits)))
    assert float(value) == pytest.approx(expected, abs=1e-6)
    assert float(anchor_loss(z, torch.tensor([2]), anchors, present, 0.5)) == 0.0


def test_crop_embeddings_and_classes() -> None:
    embedding = torch.tensor([[[3.0, 0.0], [0.0, 4.0], [100.0, 0.0]]])
    valid = torch.tensor([[True, True, False]])
    torch.testing.assert_close(crop_embeddings(embedding, valid), torch.tensor([[0.6, 0.8]]))
    nan = math.nan
    target = torch.tensor(
        [
            [[0.5, 0.5], [0.1, 0.2], [nan, nan]],  # Q1
            [[-0.5, 0.5], [nan, 0.2], [0.9, 0.9]],  # Q2 (the last token is padding)
            [[-0.2, -0.5], [-0.2, -0.5], [-0.2, -0.5]],  # Q3
            [[0.2, -0.5], [0.2, nan], [0.2, 0.0]],  # Q4 (0 counts as low)
            [[0.5, nan], [0.5, nan], [0.5, nan]],  # arousal unknown
        ]
    )
    mask = torch.tensor([[True, True, True], [True, True, False], [True] * 3, [True] * 3, [True] * 3])
    assert crop_classes(target, mask).tolist() == [0, 1, 2, 3, -1]

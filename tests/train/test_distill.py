"""musicnn as a teacher: token targets, the distillation and probe terms against hand-computed values,
gradients through the hooks, and a tiny three-view run with distillation and a test split end to end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from damer_core.bundle import load_bundle
from damer_core.config import from_mapping, to_mapping
from damer_core.errors import ConfigError
from damer_core.model import DamerModel, ModelConfig
from damer_core.spec import FeatureSpec, MusicnnViewSpec
from train.distill import Distiller, token_targets
from train.loop import train
from train.recipe import DistillConfig, TrainRecipe, load_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SPEC = FeatureSpec(musicnn=MusicnnViewSpec())
TINY = ModelConfig(d_model=8, n_heads=2, encoder_blocks=1, fusion_window_tokens=4, temporal_layers=1, window_tokens=4,
                   embed_dim=4, dropout=0.0)  # fmt: skip


def batch(n_frames: int = 12, seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    mel = torch.randn(2, n_frames, 128, generator=generator) - 5
    coch = torch.randn(2, n_frames, 84, generator=generator) - 8
    musicnn = torch.rand(2, n_frames, 200, generator=generator) * 3
    return mel, coch, musicnn


def test_token_targets_are_the_standardised_last_frame_of_each_token() -> None:
    musicnn = torch.arange(2 * 7 * 3, dtype=torch.float32).reshape(2, 7, 3)
    mean, std = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 2.0, 4.0])
    targets = token_targets(musicnn, 2, mean, std)
    assert targets.shape == (2, 3, 3)
    for token in range(3):
        torch.testing.assert_close(targets[:, token], (musicnn[:, 2 * token + 1] - mean) / std)


def zeroed(distiller: Distiller) -> Distiller:
    with torch.no_grad():
        for parameter in distiller.parameters():
            parameter.zero_()
    return distiller


def test_terms_equal_hand_computed_values_with_zero_maps() -> None:
    torch.manual_seed(0)
    model = DamerModel(TINY, SPEC)
    mean, std = np.full(200, 1.0), np.full(200, 0.5)
    config = DistillConfig(enabled=True, weight=1.0, view_weight=1.0, probe_weight=1.0, probe_pseudo_weight=1.0,
                           probe_threshold=0.5, probe_start_step=0)  # fmt: skip
    distiller = zeroed(Distiller(config, model, mean, std))
    with torch.no_grad():
        distiller.probe.bias.copy_(torch.tensor([3.0, -3.0]))  # confident: valence high, arousal low
    mel, coch, musicnn = batch()
    output = model(mel, coch, musicnn)
    valid = torch.ones(2, 6, dtype=torch.bool)
    valid[1, 4:] = False
    target = torch.full((2, 6, 2), math.nan)
    target[0, :, 0] = 0.5  # one labelled dimension of one crop; everything else is a candidate
    token_weight = valid.float()
    loss, parts = distiller.loss(output, musicnn, target, token_weight, valid, step=0)

    goal = (musicnn[:, 1::2] - 1.0) / 0.5
    squared = (goal**2).mean(dim=-1)
    expected_fused = float(squared[valid].mean())
    assert parts["distill"] == pytest.approx(expected_fused, rel=1e-5)
    assert parts["distill_views"] == pytest.approx(2 * expected_fused, rel=1e-5)  # mel and cochleagram, not musicnn
    assert parts["probe_bce"] == pytest.approx(float(F.softplus(torch.tensor(-3.0))), rel=1e-5)  # label high, logit 3
    p_high = torch.sigmoid(torch.tensor([3.0, -3.0]))
    candidates = torch.isnan(target) & valid.unsqueeze(-1)
    bce = F.binary_cross_entropy_with_logits(output.logits, p_high.expand_as(output.logits), reduction="none")
    assert parts["probe_pseudo_bce"] == pytest.approx(float(bce[candidates].mean().detach()), rel=1e-5)
    assert parts["probe_accepted"] == 1.0
    expected = expected_fused + 2 * expected_fused + parts["probe_bce"] + parts["probe_pseudo_bce"]
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)


def test_gradients_reach_the_view_encoders_and_the_maps_but_not_through_the_probe_input() -> None:
    torch.manual_seed(1)
    model = DamerModel(dataclass_replace(TINY, views=("mel", "cochleagram")), FeatureSpec())
    distiller = Distiller(DistillConfig(enabled=True, probe_pseudo_weight=0.0), model, np.zeros(200), np.ones(200))
    mel, coch, musicnn = batch(seed=2)
    target = torch.full((2, 6, 2), 0.5)
    valid = torch.ones(2, 6, dtype=torch.bool)
    output = model(mel, coch)
    loss, _ = distiller.loss(output, musicnn, target, valid.float(), valid, step=0)
    loss.backward()
    for view in ("mel", "cochleagram"):
        assert torch.count_nonzero(model.encoders[view].patch.weight.grad) > 0
    assert torch.count_nonzero(distiller.fused.weight.grad) > 0 and torch.count_nonzero(distiller.probe.weight.grad) > 0
    distiller.remove_hooks()
    assert not model.head._forward_pre_hooks and not model.view_heads["mel"]._forward_pre_hooks


def dataclass_replace(config: ModelConfig, **changes: object) -> ModelConfig:
    return from_mapping(ModelConfig, {**to_mapping(config), **changes})


def test_distillation_needs_the_musicnn_view_in_the_features() -> None:
    with pytest.raises(ConfigError, match="features.musicnn"):
        from_mapping(
            TrainRecipe, {"data": {"sources": [{"kind": "csv", "path": "x.csv"}]}, "distill": {"enabled": True}}
        )


def test_tiny_three_view_run_with_distillation_and_a_test_split(tiny_run_dir: Path) -> None:
    mapping = to_mapping(load_recipe("recipe.yaml"))
    mapping["features"]["musicnn"] = {"variant": "aligned", "pool_frames": 62}
    mapping["model"]["views"] = ["mel", "cochleagram", "musicnn"]
    mapping["distill"] = {"enabled": True, "probe_start_step": 2}
    mapping["data"]["test"] = {"source": "tones", "fraction": 0.25, "seed": 3}
    mapping["data"]["validation"]["fraction"] = 0.5
    mapping["optim"]["steps"] = 8
    mapping["checkpoint_every"] = mapping["eval_every"] = 4
    result = train(from_mapping(TrainRecipe, mapping), "out", progress=False)
    bundle = load_bundle(result.bundle, device="cpu")
    assert bundle.spec.musicnn == MusicnnViewSpec(variant="aligned", pool_frames=62)
    assert bundle.model.views == ("mel", "cochleagram", "musicnn")
    assert bundle.card["modules"]["musicnn_distillation"] is True
    test = bundle.card["metrics"]["test"]
    rows = {row["name"]: row for row in bundle.card["data"]}
    n_test = rows["tones"]["test_clips"]
    assert test["n_clips"] == n_test > 0 and test == result.test_report
    assert rows["tones"]["train_clips"] + rows["tones"]["validation_clips"] + n_test == 12
    assert rows["tones"]["validation_clips"] > 0
    assert any("MSD_musicnn" in notice for notice in bundle.card["notices"])
    checkpoint = torch.load("out/checkpoint.pt", weights_only=True)
    assert set(checkpoint["learner"]["distill"]) >= {"fused.weight", "probe.weight", "mean", "std"}

"""Fixtures for the model tests: small configs, randomised models and log-feature-like frames."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch

from damer_core.model import DamerModel, ModelConfig
from damer_core.spec import FeatureSpec

# Small enough for quick tests, large enough to exercise every path: W = 12 tokens, fusion window 5,
# three conv blocks (left context 2 + 4 + 8 tokens).
SMALL = ModelConfig(
    d_model=32,
    n_heads=4,
    frames_per_token=2,
    encoder_blocks=3,
    kernel_size=3,
    dsaf_blocks=1,
    fusion_window_tokens=5,
    temporal_layers=2,
    window_tokens=12,
    ffn_mult=2,
    dropout=0.1,
    embed_dim=16,
)


def randomise(model: DamerModel, seed: int) -> DamerModel:
    """Give every parameter O(1)-scale random values (the default init is deliberately small) and set
    non-trivial input statistics, so that numerical slips show up in the outputs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            fan_in = parameter.shape[-1] if parameter.ndim > 1 else 4
            noise = torch.randn(parameter.shape, generator=generator) / fan_in**0.5
            parameter.copy_(parameter + noise if parameter.ndim > 1 else 1.0 + noise)
        n_mels, n_coch, n_musicnn = (model.n_bins[view] for view in ("mel", "cochleagram", "musicnn"))
        musicnn_stats = {}
        if n_musicnn:
            musicnn_stats = {
                "musicnn_mean": torch.randn(n_musicnn, generator=generator),
                "musicnn_std": 0.5 + torch.rand(n_musicnn, generator=generator),
            }
        model.set_input_stats(
            -5 + torch.randn(n_mels, generator=generator),
            1.5 + torch.rand(n_mels, generator=generator),
            -8 + torch.randn(n_coch, generator=generator),
            2 + torch.rand(n_coch, generator=generator),
            **musicnn_stats,
        )
    return model


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """The model tests run many tiny operations; on a shared 2-core machine a second intra-op thread only
    adds contention (several times slower under load)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def spec() -> FeatureSpec:
    return FeatureSpec()


@pytest.fixture
def make_model(spec: FeatureSpec) -> Callable[..., DamerModel]:
    default_spec = spec
    """``make_model(seed=0, config=SMALL, spec=None, **config_overrides)``: an eval-mode randomised model
    (for the default spec unless another is given)."""

    def make(
        seed: int = 0, config: ModelConfig = SMALL, spec: FeatureSpec | None = None, **overrides: object
    ) -> DamerModel:
        torch.manual_seed(seed)
        config = dataclasses.replace(config, **overrides)
        return randomise(DamerModel(config, spec or default_spec), seed).eval()

    return make


@pytest.fixture
def make_frames(spec: FeatureSpec) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """``make_frames(n_frames, batch=1, seed=0)`` -> (mel (B,T,128), coch (B,T,84)) float32 with the
    scale of log-power features and slow drifts, so tokens differ from each other."""

    def make(n_frames: int, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng(seed)
        drift = np.cumsum(rng.standard_normal((batch, n_frames, 1)) * 0.3, axis=1)
        mel = -5 + 2 * rng.standard_normal((batch, n_frames, spec.mel.n_mels)) + drift
        coch = -8 + 2 * rng.standard_normal((batch, n_frames, spec.cochleagram.n_channels)) + drift
        return torch.from_numpy(mel.astype(np.float32)), torch.from_numpy(coch.astype(np.float32))

    return make


@pytest.fixture
def small_config() -> ModelConfig:
    return SMALL


@pytest.fixture
def rel_err() -> Callable[[torch.Tensor, torch.Tensor], float]:
    """``rel_err(actual, expected)`` = ``||actual - expected|| / ||expected||`` in float64."""

    def error(actual: torch.Tensor, expected: torch.Tensor) -> float:
        expected = expected.detach().double()
        return float((actual.detach().double() - expected).norm() / expected.norm())

    return error

"""Incremental MSD_musicnn: its columns against the original network run on the whole sequence (aligned
variant) or on causally padded inputs (causal variant), streamed equals offline, causality, state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from damer_core.musicnn import Musicnn, load_musicnn
from damer_core.musicnn_stream import CausalMusicnn

FIXTURE = Path(__file__).parent / "fixtures" / "musicnn_parity.npz"
POOL = 60  # a short back-end window keeps the sliding pools quick to check by hand
TOLERANCE = 2e-5  # relative to the largest value, float32 sums in another order


@pytest.fixture(scope="module")
def network() -> Musicnn:
    torch.set_num_threads(1)
    return load_musicnn()


@pytest.fixture(scope="module")
def mel() -> torch.Tensor:
    """748 frames (12 s) of real musicnn log-Mel: four 3 s patches of music, one after the other."""
    with np.load(FIXTURE) as data:
        return torch.from_numpy(data["mel"].reshape(-1, 96))


def sliding_pools(features: torch.Tensor, window: int, first_valid: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Max and mean of each row ``j`` over rows ``max(first_valid, j - window + 1) .. j`` (zeros when empty)."""
    rows_max, rows_mean = [], []
    for j in range(features.shape[0]):
        lo = max(first_valid, j - window + 1)
        if lo > j:
            rows_max.append(torch.zeros(features.shape[1]))
            rows_mean.append(torch.zeros(features.shape[1]))
        else:
            rows_max.append(features[lo : j + 1].amax(0))
            rows_mean.append(features[lo : j + 1].mean(0))
    return torch.stack(rows_max), torch.stack(rows_mean)


def causal_reference(network: Musicnn, mel: torch.Tensor) -> torch.Tensor:
    """The causal variant's columns ``(T, 753)`` from the original modules: every convolution padded with
    ``kernel - 1`` zeros before the sequence and none after."""
    x = network.input_norm(mel[None, None])
    branches = []
    for branch in (*network.timbral, *network.temporal):
        kernel = branch.conv.kernel_size[0]
        branches.append(branch.unpadded(F.pad(x, (0, 0, kernel - 1, 0))))
    layers = [torch.cat(branches, dim=1)]
    for index, layer in enumerate(network.midend):
        out = layer.unpadded(F.pad(layers[-1], (layer.conv.kernel_size[0] - 1, 0)))
        layers.append(out if index == 0 else out + layers[-1])
    return torch.cat(layers, dim=1)[0].t()


def stream(model: CausalMusicnn, mel: torch.Tensor, sizes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    state, maxes, means, start, i = model.init_state(), [], [], 0, 0
    while start < mel.shape[0]:
        size = sizes[i % len(sizes)]
        max_pool, mean_pool, state = model(mel[start : start + size], state)
        maxes.append(max_pool)
        means.append(mean_pool)
        start, i = start + size, i + 1
    return torch.cat(maxes), torch.cat(means)


def assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    assert actual.shape == expected.shape
    assert float((actual - expected).abs().max()) <= TOLERANCE * float(expected.abs().max())


def test_aligned_columns_are_the_original_network_on_the_whole_sequence(network, mel):
    model = CausalMusicnn(network, "aligned", POOL)
    assert model.lag == 64 + 3 * 3
    max_pool, mean_pool, _ = model(mel, model.init_state())
    with torch.no_grad():
        original = network(mel[None]).features[0]
    # Column j of the stream is the original's column j - lag; the original's last lag columns read the zero
    # padding after the sequence, which the stream has not seen yet, so they are left out.
    delayed = torch.cat((torch.zeros(model.lag, original.shape[1]), original[: mel.shape[0] - model.lag]))
    expected_max, expected_mean = sliding_pools(delayed, POOL, model.lag)
    assert_close(max_pool, expected_max)
    assert_close(mean_pool, expected_mean)
    assert torch.count_nonzero(max_pool[: model.lag]) == 0


def test_causal_columns_are_the_original_modules_with_all_padding_in_the_past(network, mel):
    model = CausalMusicnn(network, "causal", POOL)
    assert model.lag == 0
    max_pool, mean_pool, _ = model(mel, model.init_state())
    with torch.no_grad():
        expected_max, expected_mean = sliding_pools(causal_reference(network, mel), POOL, 0)
    assert_close(max_pool, expected_max)
    assert_close(mean_pool, expected_mean)


@pytest.mark.parametrize("variant", ["causal", "aligned"])
@pytest.mark.parametrize("sizes", [[1], [2, 1], [7], [59, 3, 0, 200], [300]], ids=["1", "2-1", "7", "mixed", "300"])
def test_streamed_equals_offline(network, mel, variant, sizes):
    model = CausalMusicnn(network, variant, 187)
    part = mel[:400]
    offline = model(part, model.init_state())
    streamed = stream(model, part, sizes)
    assert_close(streamed[0], offline[0])
    assert_close(streamed[1], offline[1])


@pytest.mark.parametrize("variant", ["causal", "aligned"])
def test_columns_do_not_depend_on_future_frames(network, mel, variant):
    model = CausalMusicnn(network, variant, POOL)
    changed = mel.clone()
    changed[250:] = torch.flip(changed[250:], dims=[0]) + 1.0
    first, second = model(mel[:400], model.init_state()), model(changed[:400], model.init_state())
    torch.testing.assert_close(first[0][:250], second[0][:250], rtol=0, atol=0)
    assert not torch.allclose(first[0][250 + model.lag :], second[0][250 + model.lag :])


def test_state_snapshot_replays_and_a_fresh_state_restarts(network, mel):
    model = CausalMusicnn(network, "aligned", POOL)
    _, _, state = model(mel[:130], model.init_state())
    snapshot = {key: value.clone() for key, value in state.items()}
    later = model(mel[130:200], state)
    assert all(torch.equal(snapshot[key], state[key]) for key in state)  # the call did not modify its input
    again = model(mel[130:200], snapshot)
    assert torch.equal(later[0], again[0]) and torch.equal(later[1], again[1])
    assert set(later[2]) == set(model.init_state())
    assert {k: v.shape for k, v in later[2].items()} == {k: v.shape for k, v in model.init_state().items()}


def test_embeddings_are_the_back_end_of_the_pools(network, mel):
    penultimate = CausalMusicnn(network, "causal", 187, "penultimate")
    taggram = CausalMusicnn(network, "causal", 187, "taggram")
    max_pool, mean_pool, _ = penultimate(mel[:200], penultimate.init_state())
    with torch.no_grad():
        batch = network.pool_norm(torch.stack((max_pool, mean_pool), dim=-1).flatten(1))
        expected = network.dense_norm(torch.relu(network.dense(batch)))
    torch.testing.assert_close(penultimate.embed(max_pool, mean_pool), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(taggram.embed(max_pool, mean_pool), torch.sigmoid(network.classifier(expected)))
    assert (penultimate.embedding_size, taggram.embedding_size) == (200, 50)


def test_bad_arguments_are_refused(network):
    with pytest.raises(ValueError, match="variant"):
        CausalMusicnn(network, "lookahead")
    with pytest.raises(ValueError, match="pool_frames"):
        CausalMusicnn(network, "causal", 0)
    model = CausalMusicnn(network)
    with pytest.raises(ValueError, match=r"expected shape \(frames, 96\)"):
        model(torch.zeros(3, 95), model.init_state())

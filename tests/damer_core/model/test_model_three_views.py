"""DAMER reading the pretrained musicnn view as well: DSAF over three views, streaming parity, causality,
the traced step, snapshots, training, and refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from damer_core.errors import AudioError, ConfigError
from damer_core.model import DamerModel, DamerOutput, ModelConfig
from damer_core.model.fusion import GatedFusion
from damer_core.model.output import concat_outputs
from damer_core.spec import FeatureSpec, MusicnnViewSpec

TOLERANCE = 1e-5
SPEC = FeatureSpec(musicnn=MusicnnViewSpec())
THREE = ("mel", "cochleagram", "musicnn")

CONFIGS = {
    "three-views-dsaf": {},
    "three-views-dsaf-2-blocks": {"dsaf_blocks": 2},
    "three-views-gate-only": {"dsaf_blocks": 0},
    "three-views-concat": {"fusion": "concat"},
    "mel-and-musicnn": {"views": ("mel", "musicnn")},
    "musicnn-only": {"views": ("musicnn",)},
    "three-views-1-frame-tokens": {"frames_per_token": 1},
    "three-views-probe": {"probe": True},
    "musicnn-only-probe": {"views": ("musicnn",), "probe": True},
}


@pytest.fixture
def make(make_model):
    """``make(seed=0, **overrides)``: a randomised small model reading all three views."""

    def build(seed: int = 0, **overrides: object) -> DamerModel:
        return make_model(seed, spec=SPEC, **{"views": THREE, **overrides})

    return build


def frames(n_frames: int, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-feature-like mel and cochleagram frames and penultimate-like musicnn frames that hold each value
    for one or two frames (the musicnn frame rate is below the front-end's)."""
    rng = np.random.default_rng(seed)
    drift = np.cumsum(rng.standard_normal((batch, n_frames, 1)) * 0.3, axis=1)
    mel = -5 + 2 * rng.standard_normal((batch, n_frames, 128)) + drift
    coch = -8 + 2 * rng.standard_normal((batch, n_frames, 84)) + drift
    held = np.repeat(rng.standard_normal((batch, n_frames, 200)), 2, axis=1)[:, :n_frames]
    musicnn = np.maximum(held + 0.5 * drift, 0.0)
    return tuple(torch.from_numpy(x.astype(np.float32)) for x in (mel, coch, musicnn))


def fields(output: DamerOutput) -> dict[str, torch.Tensor]:
    named = {"va": output.va, "logits": output.logits, "embedding": output.embedding}
    named.update({f"view_va.{v}": t for v, t in output.view_va.items()})
    named.update({f"view_logits.{v}": t for v, t in output.view_logits.items()})
    return named


def assert_close(actual: DamerOutput, expected: DamerOutput, rel_err) -> None:
    got, want = fields(actual), fields(expected)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].shape == want[name].shape, name
        assert rel_err(got[name], want[name]) < TOLERANCE, name


def stream(streamer, views: tuple[torch.Tensor, ...], sizes: list[int]) -> DamerOutput:
    outputs, start, i = [], 0, 0
    while start < views[0].shape[1]:
        size = sizes[i % len(sizes)]
        outputs.append(streamer.push(*(x[:, start : start + size] for x in views)))
        start, i = start + size, i + 1
    return concat_outputs(outputs)


@pytest.mark.parametrize("overrides", CONFIGS.values(), ids=CONFIGS.keys())
def test_one_frame_at_a_time_equals_offline(make, overrides: dict, rel_err) -> None:
    model = make(**overrides)
    n_tokens = 3 * model.config.window_tokens + 3
    views = frames((n_tokens + 1) * model.frames_per_token - 1)
    streamed = stream(model.streaming(), views, [1])
    assert streamed.va.shape[1] == n_tokens
    assert set(streamed.view_va) == set(model.views)
    with torch.no_grad():
        assert_close(streamed, model(*views), rel_err)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_chunks_of_a_batch_and_the_traced_step_equal_offline(make, seed: int, rel_err) -> None:
    model = make(seed)
    views = frames(3 * 12 * 2 + 5, batch=2, seed=seed)
    sizes = np.random.default_rng(seed).integers(0, 9, size=40).tolist()
    with torch.no_grad():
        expected = model(*views)
    assert_close(stream(model.streaming(batch=2), views, sizes), expected, rel_err)
    assert_close(stream(model.streaming(batch=2, traced=True), views, sizes), expected, rel_err)


def test_dsaf_has_both_directions_of_every_pair_of_views(make) -> None:
    block = make().dsaf[0]
    assert set(block.attention) == {
        "mel_from_coch", "mel_from_musicnn",
        "coch_from_mel", "coch_from_musicnn",
        "musicnn_from_mel", "musicnn_from_coch",
    }  # fmt: skip


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_outputs_do_not_depend_on_future_frames_of_any_view(make, mode: str) -> None:
    model = make()
    model.train(mode == "train")
    views = [x.requires_grad_(True) for x in frames(30 * 2)]
    output = model(*views)
    for token in (0, 11, 29):
        total = sum(t[:, token].sum() for t in fields(output).values())
        grads = torch.autograd.grad(total, views, retain_graph=True)
        for grad in grads:
            assert torch.count_nonzero(grad[:, 2 * (token + 1) :]) == 0
            assert torch.count_nonzero(grad[:, 2 * token : 2 * (token + 1)]) > 0


def test_two_view_gate_is_a_sigmoid_mix_of_the_first_view() -> None:
    torch.manual_seed(0)
    gate = GatedFusion(8, 2)
    a, b = torch.randn(2, 3, 8), torch.randn(2, 3, 8)
    g = torch.sigmoid(gate.gate(torch.cat((a, b), dim=-1)))
    torch.testing.assert_close(gate([a, b]), gate.out(g * a + (1 - g) * b))


def test_three_view_gate_weights_are_a_softmax_over_views() -> None:
    torch.manual_seed(0)
    gate = GatedFusion(4, 3)
    streams = [torch.randn(1, 2, 4) for _ in range(3)]
    logits = gate.gate(torch.cat(streams, dim=-1)).view(1, 2, 2, 4)
    weights = torch.softmax(torch.cat((logits, torch.zeros(1, 2, 1, 4)), dim=2), dim=2)
    mixed = sum(weights[:, :, v] * streams[v] for v in range(3))
    torch.testing.assert_close(gate(streams), gate.out(mixed))


def test_snapshot_restore_replays_identically(make) -> None:
    model = make()
    views = frames(61)
    streamer = model.streaming()
    streamer.push(*(x[0, :25] for x in views))  # half-way through a token
    snapshot = streamer.get_state()
    assert snapshot["stream.pending_musicnn"].shape == (1, 1, 200)
    later = streamer.push(*(x[0, 25:] for x in views))
    streamer.set_state(snapshot)
    again = streamer.push(*(x[0, 25:] for x in views))
    assert all(torch.equal(x, y) for x, y in zip(fields(later).values(), fields(again).values(), strict=True))


def test_training_step_reaches_every_parameter(make) -> None:
    model = make(dropout=0.0)
    views = frames(40, batch=2)
    va = torch.rand(2, 20, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    model.train()
    output = model(*views)
    loss = F.mse_loss(output.va, va) + F.binary_cross_entropy_with_logits(output.logits, (va > 0).float())
    for view in output.view_va:
        loss = loss + F.mse_loss(output.view_va[view], va)
    loss = loss + (1 - output.embedding[..., 0]).mean()
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.count_nonzero(parameter.grad) > 0, name


def test_musicnn_input_statistics_normalise_the_view(make, rel_err) -> None:
    model = make()
    mel, coch, musicnn = frames(30)
    encoder = model.encoders["musicnn"]
    normalised = (musicnn - encoder.mean) / encoder.std
    with torch.no_grad():
        expected = model(mel, coch, musicnn)
        model.set_input_stats(
            encoder_stat(model, "mel", "mean"), encoder_stat(model, "mel", "std"),
            encoder_stat(model, "cochleagram", "mean"), encoder_stat(model, "cochleagram", "std"),
            musicnn_mean=np.zeros(200), musicnn_std=np.ones(200),
        )  # fmt: skip
        assert_close(model(mel, coch, normalised), expected, rel_err)


def encoder_stat(model: DamerModel, view: str, name: str) -> np.ndarray:
    return getattr(model.encoders[view], name).numpy().copy()


def test_musicnn_view_without_a_spec_section_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no musicnn view"):
        DamerModel(ModelConfig(views=THREE), FeatureSpec())


def test_missing_or_bad_musicnn_frames_are_refused(make) -> None:
    model = make()
    mel, coch, musicnn = frames(8)
    with pytest.raises(AudioError, match="musicnn frames: this model reads"):
        model(mel, coch)
    with pytest.raises(AudioError, match="musicnn frames: this model reads"):
        model.streaming().push(mel[0], coch[0])
    with pytest.raises(AudioError, match=r"musicnn frames: expected shape \(frames, 200\)"):
        model.streaming().push(mel[0], coch[0], musicnn[0, :, :50])
    with pytest.raises(AudioError, match="frame counts differ: 8 != 8 != 7"):
        model.streaming().push(mel[0], coch[0], musicnn[0, :7])


def test_two_view_model_ignores_musicnn_frames(make_model, make_frames, rel_err) -> None:
    model = make_model()
    mel, coch = make_frames(20)
    with torch.no_grad():
        expected = model(mel, coch)
    assert_close(model.streaming().push(mel[0], coch[0], np.zeros((20, 0), dtype=np.float32)), expected, rel_err)
    assert math.isfinite(float(expected.va.sum()))


def test_views_config_accepts_any_distinct_subset() -> None:
    assert ModelConfig(views=("musicnn", "mel")).views == ("musicnn", "mel")
    with pytest.raises(ConfigError, match="views"):
        ModelConfig(views=("mel", "mel"))
    with pytest.raises(ConfigError, match="views"):
        ModelConfig(views=("taggram",))


def test_the_probe_is_a_linear_map_of_the_windowed_mean_embedding(make) -> None:
    """With the rest of the network silenced, the output is the probe of the mean of the last W tokens'
    normalised musicnn frames: the logistic-regression prior the network refines."""
    model = make(probe=True).eval()
    with torch.no_grad():
        model.head.linear.weight.zero_()
        model.head.linear.bias.zero_()
    mel, coch, musicnn = frames(64)
    out = model(mel, coch, musicnn)
    encoder = model.encoders["musicnn"]
    per_token = ((musicnn - encoder.mean) / encoder.std).reshape(1, 32, 2, 200).mean(dim=2)
    window = model.config.window_tokens
    for n in (0, 5, 31):
        pooled = per_token[:, max(0, n - window + 1) : n + 1].mean(dim=1)
        raw = model.probe(pooled)
        torch.testing.assert_close(out.logits[:, n], raw[:, 2:], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out.va[:, n], torch.tanh(raw[:, :2]), rtol=1e-5, atol=1e-6)


def test_a_probe_needs_the_musicnn_view() -> None:
    with pytest.raises(ConfigError, match="probe: must be false unless views has 'musicnn'"):
        ModelConfig(probe=True)

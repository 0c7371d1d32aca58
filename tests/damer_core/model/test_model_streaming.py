"""Streaming DAMER: parity with the offline forward pass, causality, bounded state, snapshots, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from damer_core.errors import AudioError
from damer_core.model import DamerModel, DamerOutput, ModelConfig, StreamingDamer
from damer_core.model.output import concat_outputs

TOLERANCE = 1e-5


def fields(output: DamerOutput) -> dict[str, torch.Tensor]:
    named = {"va": output.va, "logits": output.logits, "embedding": output.embedding}
    named.update({f"view_va.{v}": t for v, t in output.view_va.items()})
    named.update({f"view_logits.{v}": t for v, t in output.view_logits.items()})
    return named


def assert_close(actual: DamerOutput, expected: DamerOutput, rel_err, tolerance: float = TOLERANCE) -> None:
    got, want = fields(actual), fields(expected)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].shape == want[name].shape, name
        assert rel_err(got[name], want[name]) < tolerance, name


def stream(streamer: StreamingDamer, mel: torch.Tensor, coch: torch.Tensor, sizes: list[int]) -> DamerOutput:
    """Push ``mel``/``coch`` (B,T,...) in chunks of the given sizes (cycled) and join the outputs."""
    outputs, start, i = [], 0, 0
    while start < mel.shape[1]:
        size = sizes[i % len(sizes)]
        outputs.append(streamer.push(mel[:, start : start + size], coch[:, start : start + size]))
        start, i = start + size, i + 1
    return concat_outputs(outputs)


def offline(model: DamerModel, mel: torch.Tensor, coch: torch.Tensor) -> DamerOutput:
    with torch.no_grad():
        return model(mel, coch)


CONFIGS = {
    "dsaf": {},
    "dsaf-2-blocks": {"dsaf_blocks": 2},
    "gate-only": {"dsaf_blocks": 0},
    "concat": {"fusion": "concat"},
    "mel-only": {"views": ("mel",)},
    "cochleagram-only": {"views": ("cochleagram",)},
    "1-frame-tokens": {"frames_per_token": 1},
    "3-frame-tokens": {"frames_per_token": 3, "kernel_size": 2},
    "no-temporal": {"temporal_layers": 0},
    "wide-fusion-window": {"fusion_window_tokens": 30, "window_tokens": 7},
}


@pytest.mark.parametrize("overrides", CONFIGS.values(), ids=CONFIGS.keys())
def test_one_frame_at_a_time_equals_offline(overrides: dict, make_model, make_frames, rel_err) -> None:
    model = make_model(**overrides)
    n_tokens = 5 * model.config.window_tokens + 3
    mel, coch = make_frames((n_tokens + 1) * model.frames_per_token - 1)  # the last token is incomplete
    streamed = stream(model.streaming(), mel, coch, [1])
    assert streamed.va.shape[1] == n_tokens
    assert_close(streamed, offline(model, mel, coch), rel_err)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_chunks_of_a_batch_equal_offline(seed: int, make_model, make_frames, rel_err) -> None:
    model = make_model(seed)
    mel, coch = make_frames(4 * 12 * 2 + 5, batch=2, seed=seed)
    sizes = np.random.default_rng(seed).integers(0, 9, size=50).tolist()
    assert_close(stream(model.streaming(batch=2), mel, coch, sizes), offline(model, mel, coch), rel_err)


def test_default_config_streams_several_windows_like_offline(make_model, make_frames, rel_err) -> None:
    model = make_model(config=ModelConfig())
    n_frames = 3 * model.config.window_tokens * model.frames_per_token + 7
    mel, coch = make_frames(n_frames)
    sizes = np.random.default_rng(0).integers(1, 12, size=40).tolist()
    assert_close(stream(model.streaming(), mel, coch, sizes), offline(model, mel, coch), rel_err)


def test_traced_streaming_equals_offline(make_model, make_frames, rel_err) -> None:
    model = make_model()
    mel, coch = make_frames(3 * 12 * 2 + 1)
    assert_close(stream(model.streaming(traced=True), mel, coch, [1, 4, 3]), offline(model, mel, coch), rel_err)


def test_numpy_frames_of_one_stream(make_model, make_frames, rel_err) -> None:
    model = make_model()
    mel, coch = make_frames(40)
    streamer = model.streaming()
    first = streamer.push(mel[0, :15].numpy(), coch[0, :15].numpy().astype(np.float64))
    second = streamer.push(mel[0, 15:].numpy(), coch[0, 15:].numpy())
    assert (first.va.shape[1], second.va.shape[1]) == (7, 13)
    assert_close(concat_outputs([first, second]), offline(model, mel, coch), rel_err)


def test_fewer_frames_than_a_token_give_no_tokens(make_model, make_frames) -> None:
    model = make_model(frames_per_token=3)
    mel, coch = make_frames(2)
    for output in (model.streaming().push(mel[0], coch[0]), offline(model, mel, coch)):
        assert output.va.shape == (1, 0, 2) and output.embedding.shape == (1, 0, 16)
        assert set(output.view_logits) == {"mel", "cochleagram"}


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_outputs_do_not_depend_on_future_frames(mode: str, make_model, make_frames) -> None:
    model = make_model()
    model.train(mode == "train")
    per_token = model.frames_per_token
    mel, coch = make_frames(40 * per_token)
    mel.requires_grad_(True)
    coch.requires_grad_(True)
    output = model(mel, coch)
    for token in (0, 13, 25, 39):
        total = sum(t[:, token].sum() for t in fields(output).values())
        mel_grad, coch_grad = torch.autograd.grad(total, (mel, coch), retain_graph=True)
        end = (token + 1) * per_token
        for grad in (mel_grad, coch_grad):
            assert torch.count_nonzero(grad[:, end:]) == 0
            assert torch.count_nonzero(grad[:, end - per_token : end]) > 0


def state_bytes(streamer: StreamingDamer) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in streamer.get_state().items() if not key.startswith("stream.")}


def test_state_size_is_bounded(make_model, make_frames) -> None:
    model = make_model()
    window = model.config.window_tokens
    mel, coch = make_frames(10 * window * model.frames_per_token)
    streamer = model.streaming()
    streamer.push(mel[0, : window * model.frames_per_token], coch[0, : window * model.frames_per_token])
    after_window = state_bytes(streamer)
    streamer.push(mel[0, window * model.frames_per_token :], coch[0, window * model.frames_per_token :])
    assert streamer.tokens == 10 * window
    assert state_bytes(streamer) == after_window
    assert after_window == {key: tuple(value.shape) for key, value in model.init_state(1).items()}


def test_eval_mode_is_deterministic(make_model, make_frames) -> None:
    model = make_model()
    mel, coch = make_frames(60, batch=2)
    first, second = offline(model, mel, coch), offline(model, mel, coch)
    streamed = [stream(model.streaming(batch=2), mel, coch, [3]) for _ in range(2)]
    for a, b in ((first, second), (streamed[0], streamed[1])):
        assert all(torch.equal(x, y) for x, y in zip(fields(a).values(), fields(b).values(), strict=True))


def test_snapshot_restore_and_reset(make_model, make_frames) -> None:
    model = make_model()
    mel, coch = make_frames(101)
    streamer = model.streaming()
    streamer.push(mel[0, :41], coch[0, :41])  # ends half-way through a token
    snapshot = streamer.get_state()
    later = streamer.push(mel[0, 41:], coch[0, 41:])
    streamer.set_state(snapshot)
    again = streamer.push(mel[0, 41:], coch[0, 41:])
    assert all(torch.equal(x, y) for x, y in zip(fields(later).values(), fields(again).values(), strict=True))
    assert streamer.tokens == 50

    streamer.reset()
    assert streamer.tokens == 0
    fresh = model.streaming().push(mel[0], coch[0])
    restarted = streamer.push(mel[0], coch[0])
    assert all(torch.equal(x, y) for x, y in zip(fields(fresh).values(), fields(restarted).values(), strict=True))


def test_context_manager_resets_on_exit(make_model, make_frames) -> None:
    model = make_model()
    mel, coch = make_frames(30)
    with model.streaming() as streamer:
        streamer.push(mel[0], coch[0])
        assert streamer.tokens == 15
    assert streamer.tokens == 0 and streamer.get_state()["stream.pending_mel"].shape[1] == 0


def test_snapshot_from_another_model_is_refused(make_model) -> None:
    small, other = make_model().streaming(), make_model(window_tokens=20).streaming()
    with pytest.raises(ValueError, match="window.mask"):
        small.set_state(other.get_state())


def test_input_statistics_normalise_the_frames(make_model, make_frames, rel_err) -> None:
    model = make_model()
    mel, coch = make_frames(30)
    encoder_mel, encoder_coch = model.encoders["mel"], model.encoders["cochleagram"]
    normalised = ((mel - encoder_mel.mean) / encoder_mel.std, (coch - encoder_coch.mean) / encoder_coch.std)
    expected = offline(model, mel, coch)
    model.set_input_stats(np.zeros(128), np.ones(128), np.zeros(84), np.ones(84))
    assert_close(offline(model, *normalised), expected, rel_err)


@pytest.mark.parametrize(
    ("stats", "message"),
    [
        ((np.zeros(127), np.ones(128), np.zeros(84), np.ones(84)), r"mel input mean: expected shape \(128,\)"),
        ((np.zeros(128), np.ones(128), np.zeros(84), np.zeros(84)), "cochleagram input std: must be > 0"),
        ((np.full(128, np.nan), np.ones(128), np.zeros(84), np.ones(84)), "mel input mean: contains non-finite"),
    ],
)
def test_bad_input_statistics_are_refused(stats: tuple, message: str, make_model) -> None:
    with pytest.raises(AudioError, match=message):
        make_model().set_input_stats(*stats)


def test_bad_frames_are_refused(make_model, make_frames) -> None:
    model = make_model()
    mel, coch = make_frames(4)
    streamer = model.streaming()
    with pytest.raises(AudioError, match=r"mel frames: expected shape \(frames, 128\)"):
        streamer.push(mel[0, :, :100], coch[0])
    with pytest.raises(AudioError, match="frame counts differ: 4 != 3"):
        streamer.push(mel[0], coch[0, :3])
    bad = coch[0].clone()
    bad[1, 5] = float("nan")
    with pytest.raises(AudioError, match="cochleagram frames: contain non-finite"):
        streamer.push(mel[0], bad)
    with pytest.raises(AudioError, match="differ in"):
        model(mel, coch[:, :3])
    with pytest.raises(AudioError, match="cochleagram frames: expected shape"):
        model(mel, coch[0])
    assert streamer.tokens == 0


def test_token_times_are_the_end_of_their_last_frame(make_model, spec) -> None:
    model = make_model(frames_per_token=2)
    assert model.token_end_seconds(0) == pytest.approx((256 + 2048) / 22050)
    assert model.token_end_seconds(10) == pytest.approx(spec.frame_end_seconds(21))

"""The TorchScript export of the streaming step computes what the eager step computes."""

from __future__ import annotations

import warnings

import pytest
import torch

from damer_core.model.export import export_step


def load(path) -> torch.jit.ScriptModule:  # noqa: ANN001
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path))


@pytest.mark.parametrize(("overrides", "batch"), [({}, 1), ({"views": ("cochleagram",)}, 2), ({"fusion": "concat"}, 1)])
def test_exported_step_equals_eager_over_a_stream(
    overrides: dict, batch: int, make_model, make_frames, rel_err, tmp_path
) -> None:
    model = make_model(**overrides)
    path = export_step(model, tmp_path / "step.pt", batch=batch)
    assert path.is_file() and not list(tmp_path.glob(".*.tmp"))
    exported = load(path)
    n_tokens = 3 * model.config.window_tokens + 2
    mel, coch = make_frames(n_tokens * model.frames_per_token, batch=batch)
    eager_state = model.init_state(batch)
    exported_state = exported.initial_state(mel[:, :2])
    assert {k: v.shape for k, v in exported_state.items()} == {k: v.shape for k, v in eager_state.items()}
    assert all(torch.equal(exported_state[k], eager_state[k]) for k in eager_state)
    per_token = model.frames_per_token
    with torch.inference_mode():
        for token in range(n_tokens):
            frames = slice(token * per_token, (token + 1) * per_token)
            expected, eager_state = model.step(mel[:, frames], coch[:, frames], eager_state)
            va, logits, embedding, view_va, view_logits, exported_state = exported(
                mel[:, frames], coch[:, frames], exported_state
            )
            assert rel_err(va, expected.va) < 1e-5
            assert rel_err(logits, expected.logits) < 1e-5
            assert rel_err(embedding, expected.embedding) < 1e-5
            for view in expected.view_va:
                assert rel_err(view_va[view], expected.view_va[view]) < 1e-5
                assert rel_err(view_logits[view], expected.view_logits[view]) < 1e-5
    for key, value in eager_state.items():
        torch.testing.assert_close(exported_state[key], value, rtol=1e-5, atol=1e-5, msg=key)

"""The causal student of musicnn: streaming equals offline, causality, its weights file, the front-end view."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from damer_core.errors import BundleError
from damer_core.features.frontend import FrontEnd, frontend_offline
from damer_core.features.mel import log_mel
from damer_core.spec import FeatureSpec, MusicnnViewSpec
from damer_core.student import weights
from damer_core.student.network import MusicnnStudent, StudentConfig
from damer_core.student.view import StudentViewStream

SMALL = StudentConfig(n_mels=128, channels=16, kernel=3, dilations=(1, 2, 4), size=12)


def seeded_student(config: StudentConfig = SMALL) -> MusicnnStudent:
    torch.manual_seed(0)
    student = MusicnnStudent(config).eval()
    student.set_input_stats(torch.full((config.n_mels,), -5.0), torch.full((config.n_mels,), 2.0))
    return student


@pytest.mark.parametrize("blocks", [[1] * 40, [3, 7, 1, 29], [40], [0, 5, 0, 35]], ids=["1", "odd", "whole", "empty"])
def test_streamed_equals_offline_for_any_blocks(blocks: list[int]) -> None:
    student = seeded_student()
    mel = torch.randn(2, 40, 128) * 2 - 5
    with torch.inference_mode():
        offline = student(mel)
        state, parts, start, taps = student.init_state(2), [], 0, student.tap_weights()
        for size in blocks:
            if size:
                out, state = student.step(mel[:, start : start + size], state, taps)
                parts.append(out)
            start += size
    streamed = torch.cat(parts, dim=1)
    assert float((streamed - offline).norm() / offline.norm()) < 1e-6


def test_outputs_never_depend_on_later_frames() -> None:
    """Causality: the gradient of output t with respect to input frames after t is exactly zero."""
    student = seeded_student()
    mel = (torch.randn(1, 30, 128) * 2 - 5).requires_grad_(True)
    student(mel)[0, 20].sum().backward()
    assert mel.grad is not None
    first = 20 - SMALL.reach + 1  # the earliest frame within its reach
    assert torch.count_nonzero(mel.grad[0, 21:]) == 0
    assert torch.count_nonzero(mel.grad[0, first:21].abs().sum(-1)) == 21 - first
    assert torch.count_nonzero(mel.grad[0, :first]) == 0


def test_cost_formula_matches_the_flop_counter() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    student = seeded_student(StudentConfig())
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        student(torch.zeros(1, 100, 128))
    assert counter.get_total_flops() == 2 * 100 * StudentConfig().macs_per_frame()


def test_weights_round_trip_and_checksum(tmp_path: Path) -> None:
    student = seeded_student()
    path = tmp_path / "student.safetensors"
    sha = weights.save_student(path, student, {"note": "test"})
    loaded, card = weights.load_student(path, sha)
    assert card == {"note": "test"} and loaded.config == SMALL
    for name, tensor in student.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name])
    with pytest.raises(BundleError, match="not the ones the model was trained with"):
        weights.load_student(path, "0" * 64)
    (tmp_path / "other.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(BundleError, match="cannot read student weights"):
        weights.load_student(tmp_path / "other.safetensors")


@pytest.fixture
def shipped_student(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A small random student installed as the shipped one; returns its SHA-256."""
    path = tmp_path / "musicnn_student.safetensors"
    sha = weights.save_student(path, seeded_student(), {})
    monkeypatch.setattr("damer_core.student.view.shipped_student_path", lambda: path)
    return sha


def student_spec(sha: str) -> FeatureSpec:
    return FeatureSpec(musicnn=MusicnnViewSpec(variant="aligned", encoder="student", student_sha256=sha))


@pytest.mark.parametrize("kind", [1, 257, 4096], ids=["1 sample", "odd", "large"])
def test_front_end_student_view_streams_like_offline(shipped_student: str, music: np.ndarray, kind: int) -> None:
    spec = student_spec(shipped_student)
    audio = music[:9000] if kind == 1 else music
    offline = frontend_offline(audio, spec)
    front_end = FrontEnd(spec)
    parts = [front_end.push(audio[i : i + kind]) for i in range(0, audio.size, kind)]
    streamed = np.concatenate([p.musicnn for p in parts])
    assert streamed.shape == offline.musicnn.shape == (spec.n_frames(audio.size), SMALL.size)
    np.testing.assert_allclose(streamed, offline.musicnn, rtol=0, atol=1e-5 * np.abs(offline.musicnn).max())
    # The view is the student over the front-end's own log-Mel frames: no second Mel.
    expected = seeded_student()(torch.from_numpy(log_mel(audio, spec))[None])[0].detach().numpy()
    np.testing.assert_allclose(offline.musicnn, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_a_spec_with_another_student_is_refused(shipped_student: str) -> None:
    with pytest.raises(BundleError, match="not the ones the model was trained with"):
        StudentViewStream(student_spec("f" * 64))


def test_student_fields_leave_musicnn_specs_hash_unchanged() -> None:
    musicnn = FeatureSpec(musicnn=MusicnnViewSpec(variant="aligned"))
    assert "encoder" not in musicnn.to_dict()["musicnn"]
    student = dataclasses.replace(musicnn, musicnn=MusicnnViewSpec(encoder="student", student_sha256="a" * 64))
    assert student.to_dict()["musicnn"]["encoder"] == "student" and student.hash() != musicnn.hash()
    assert FeatureSpec.from_dict(student.to_dict()) == student

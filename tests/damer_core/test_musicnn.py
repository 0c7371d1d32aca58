"""The PyTorch MSD_musicnn against the TensorFlow original (fixture written by train/convert_musicnn.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from damer_core.errors import AudioError, BundleError
from damer_core.musicnn import MSD_TAGS, load_musicnn

FIXTURE = Path(__file__).parent / "fixtures" / "musicnn_parity.npz"
TOLERANCE = 1e-4  # relative L2 difference to TensorFlow's float32 outputs


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return dict(data)


@pytest.fixture(scope="module")
def model():
    return load_musicnn()


def relative_error(actual: torch.Tensor, expected: np.ndarray) -> float:
    return float(np.linalg.norm(actual.numpy() - expected) / np.linalg.norm(expected))


@pytest.mark.parametrize("suffix", ["", "_short"], ids=["187_frames", "61_frames"])
@pytest.mark.parametrize("output", ["taggram", "penultimate", "max_pool", "mean_pool"])
def test_outputs_equal_tensorflow(model, reference, suffix, output):
    with torch.no_grad():
        result = model(torch.from_numpy(reference["mel" + suffix]))
    assert relative_error(getattr(result, output), reference[output + suffix]) < TOLERANCE


def test_batch_members_are_independent(model, reference):
    with torch.no_grad():
        batch = model(torch.from_numpy(reference["mel"])).penultimate
        single = model(torch.from_numpy(reference["mel"][2:3])).penultimate
    np.testing.assert_allclose(single[0].numpy(), batch[2].numpy(), rtol=1e-5, atol=1e-5)


def test_features_are_the_pooled_frames(model, reference):
    with torch.no_grad():
        result = model(torch.from_numpy(reference["mel"]))
    assert result.features.shape == (4, 187, 753)
    torch.testing.assert_close(result.features.amax(dim=1), result.max_pool)
    torch.testing.assert_close(result.taggram, torch.sigmoid(result.logits))


def test_tag_names():
    assert len(MSD_TAGS) == len(set(MSD_TAGS)) == 50
    assert {"happy", "sad", "Mellow", "chill", "party"} <= set(MSD_TAGS)


def test_wrong_input_shape_is_an_audio_error(model):
    with pytest.raises(AudioError, match="96"):
        model(torch.zeros(1, 187, 128))
    with pytest.raises(AudioError, match="frames"):
        model(torch.zeros(1, 0, 96))


@pytest.fixture(scope="module")
def shipped_tensors() -> dict[str, torch.Tensor]:
    from damer_core.musicnn import default_weights_path

    return load_file(default_weights_path())


def test_missing_file_is_a_bundle_error(tmp_path):
    with pytest.raises(BundleError, match="cannot read"):
        load_musicnn(tmp_path / "absent.safetensors")


def test_corrupt_file_is_a_bundle_error(tmp_path):
    path = tmp_path / "corrupt.safetensors"
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    with pytest.raises(BundleError, match="cannot read"):
        load_musicnn(path)


def test_missing_tensor_is_a_bundle_error(tmp_path, shipped_tensors):
    path = tmp_path / "partial.safetensors"
    save_file({k: v for k, v in shipped_tensors.items() if k != "classifier.bias"}, path)
    with pytest.raises(BundleError, match="classifier.bias"):
        load_musicnn(path)


def test_wrong_shape_is_a_bundle_error(tmp_path, shipped_tensors):
    path = tmp_path / "reshaped.safetensors"
    save_file({**shipped_tensors, "dense.bias": torch.zeros(100)}, path)
    with pytest.raises(BundleError, match="dense.bias"):
        load_musicnn(path)


def test_non_finite_weights_are_a_bundle_error(tmp_path, shipped_tensors):
    path = tmp_path / "nan.safetensors"
    save_file({**shipped_tensors, "dense.bias": torch.full((200,), float("nan"))}, path)
    with pytest.raises(BundleError, match="dense.bias"):
        load_musicnn(path)

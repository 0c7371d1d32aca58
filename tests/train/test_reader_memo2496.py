"""Memo2496 reader on arrays laid out as released (clip, bins, frames), labels in labels/."""

from pathlib import Path

import numpy as np
import pytest

from train.datasets.memo2496 import MEMO2496_SPEC, read_memo2496
from train.errors import DatasetError

N_CLIPS, N_FRAMES = 3, 87


def write_memo(
    root: Path, valence=(0.5, -0.25, 0.0), arousal=(-1.0, 1.0, 0.3), coch_shape=(N_CLIPS, 84, N_FRAMES)
) -> dict:
    rng = np.random.default_rng(0)
    arrays = {
        "mel": rng.normal(size=(N_CLIPS, 128, N_FRAMES)).astype(np.float32),
        "coch": rng.normal(size=coch_shape).astype(np.float32),
    }
    (root / "labels").mkdir(parents=True)
    np.save(root / "mel_spec.npy", arrays["mel"])
    np.save(root / "cochlegram.npy", arrays["coch"])
    np.save(root / "labels/label_v.npy", np.asarray(valence, dtype=np.float64))
    np.save(root / "labels/label_a.npy", np.asarray(arousal, dtype=np.float64).reshape(-1, 1))
    return arrays


def test_features_are_transposed_to_frames_first_and_labels_kept(tmp_path):
    arrays = write_memo(tmp_path)
    clips = read_memo2496(tmp_path)
    assert [c.track_id for c in clips] == ["0", "1", "2"]
    assert [(c.valence, c.arousal) for c in clips] == [(0.5, -1.0), (-0.25, 1.0), (0.0, 0.3)]
    np.testing.assert_array_equal(clips[1].features.mel, arrays["mel"][1].T)
    np.testing.assert_array_equal(clips[2].features.coch, arrays["coch"][2].T)
    assert clips[0].features.mel.dtype == np.float32 and clips[0].features.n_frames == N_FRAMES
    assert clips[0].audio_path is None and clips[0].source == "memo2496"
    assert MEMO2496_SPEC.source == "memo2496" and MEMO2496_SPEC.hop == 256 and MEMO2496_SPEC.sample_rate == 22050


def test_out_of_range_label_names_file_and_clip(tmp_path):
    write_memo(tmp_path, valence=(0.5, 3.0, 0.0))
    with pytest.raises(DatasetError, match=r"label_v.npy: clip 1 has label 3.0, outside the \[-1, 1\] scale"):
        read_memo2496(tmp_path)


def test_nan_label_is_an_error(tmp_path):
    write_memo(tmp_path, arousal=(0.0, 0.0, np.nan))
    with pytest.raises(DatasetError, match="label_a.npy: clip 2"):
        read_memo2496(tmp_path)


def test_shape_mismatch_is_named(tmp_path):
    write_memo(tmp_path, coch_shape=(N_CLIPS, 64, N_FRAMES))
    with pytest.raises(DatasetError, match=r"cochlegram.npy: expected shape \(3, 84, n_frames\), got \(3, 64, 87\)"):
        read_memo2496(tmp_path)


def test_label_count_mismatch_is_named(tmp_path):
    write_memo(tmp_path, valence=(0.5, 0.1))
    with pytest.raises(DatasetError, match=r"label_v.npy: expected shape \(3,\)"):
        read_memo2496(tmp_path)


def test_non_array_file_is_named(tmp_path):
    write_memo(tmp_path)
    (tmp_path / "mel_spec.npy").write_bytes(b"not numpy")
    with pytest.raises(DatasetError, match="mel_spec.npy: not a readable .npy array"):
        read_memo2496(tmp_path)

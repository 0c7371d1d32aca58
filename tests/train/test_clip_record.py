"""The Clip record: invariants, quadrant, and dynamic label interpolation."""

import math
from pathlib import Path

import numpy as np
import pytest

from train.datasets.clip import Clip, ClipFeatures, DynamicLabels


def test_dynamic_labels_interpolate_linearly_and_are_nan_outside_each_dimension():
    labels = DynamicLabels(
        np.array([15.0, 15.5, 16.0]),
        np.array([0.0, 0.5, np.nan], dtype=np.float32),
        np.array([-1.0, -0.5, 1.0], dtype=np.float32),
    )
    values = labels.at(np.array([14.9, 15.0, 15.25, 15.75, 16.0, 16.1]))
    np.testing.assert_allclose(values[:, 0], [np.nan, 0.0, 0.25, np.nan, np.nan, np.nan])
    np.testing.assert_allclose(values[:, 1], [np.nan, -1.0, -0.75, 0.25, 1.0, np.nan])
    assert values.dtype == np.float32


def test_dynamic_labels_reject_unsorted_times_and_out_of_range_values():
    with pytest.raises(ValueError, match="increasing"):
        DynamicLabels(np.array([1.0, 1.0]), np.zeros(2, np.float32), np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        DynamicLabels(np.array([1.0]), np.array([1.5], np.float32), np.zeros(1, np.float32))


def test_clip_invariants_and_quadrant():
    clip = Clip(track_id="a", source="s", group="g", valence=-0.2, arousal=0.4, audio_path=Path("a.wav"))
    assert clip.key == "s:a" and clip.is_labelled and clip.quadrant == 2
    unlabelled = Clip(track_id="b", source="s", group="g", audio_path=Path("b.wav"))
    assert math.isnan(unlabelled.valence) and unlabelled.quadrant is None
    features = ClipFeatures(np.zeros((3, 128), np.float32), np.zeros((3, 84), np.float32))
    with pytest.raises(ValueError, match="exactly one of audio_path and features"):
        Clip(track_id="c", source="s", group="g", audio_path=Path("c.wav"), features=features)
    with pytest.raises(ValueError, match="outside"):
        Clip(track_id="d", source="s", group="g", valence=1.5, audio_path=Path("d.wav"))
    with pytest.raises(ValueError, match="confidence"):
        Clip(track_id="e", source="s", group="g", audio_path=Path("e.wav"), confidence=0.0)
    with pytest.raises(ValueError, match="n_frames"):
        ClipFeatures(np.zeros((3, 128), np.float32), np.zeros((4, 84), np.float32))

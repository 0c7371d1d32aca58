"""Plans drawn from seeds: deterministic, varied, covering the valence-arousal plane, with changing clips."""

from __future__ import annotations

import numpy as np
import pytest

from damer_core.errors import ConfigError
from train.synth.labels import clip_labels
from train.synth.sampling import SamplingConfig, clip_seed, sample_plan


def test_same_seed_same_plan_and_different_seeds_differ():
    assert sample_plan(12345) == sample_plan(12345)
    plans = [sample_plan(clip_seed(0, i)) for i in range(20)]
    assert len({p.to_dict().__repr__() for p in plans}) == 20


def test_clip_seeds_do_not_repeat_across_corpus_seeds_and_indices():
    seeds = {clip_seed(s, i) for s in range(5) for i in range(200)}
    assert len(seeds) == 1000
    assert all(0 <= s < 2**63 for s in seeds)


def test_corpus_draws_cover_the_plane_with_the_requested_share_of_changing_clips():
    config = SamplingConfig(change_fraction=0.4)
    plans = [sample_plan(clip_seed(1, i), config) for i in range(300)]
    changing = [p for p in plans if len(p.sections) > 1]
    assert 0.3 < len(changing) / len(plans) < 0.5
    assert any(len(p.sections) == 3 for p in plans)
    assert any(b.ramp_s == 0.0 for p in changing for b in p.boundaries)
    assert any(b.ramp_s >= 2.0 for p in changing for b in p.boundaries)
    assert all(20.0 <= p.duration_s <= 30.0 for p in plans)

    means = np.array([clip_labels(p)[1].mean(axis=0) for p in plans if len(p.sections) == 1])
    quadrant_counts = [
        np.sum((np.sign(means[:, 0]) == sv) & (np.sign(means[:, 1]) == sa)) for sv in (-1, 1) for sa in (-1, 1)
    ]
    assert min(quadrant_counts) >= 0.1 * len(means), quadrant_counts
    assert means.min() < -0.7 and means.max() > 0.7

    jumps = [np.abs(np.diff(clip_labels(p)[1], axis=0)).sum(axis=0).max() for p in changing]
    assert np.median(jumps) > 0.5


def test_all_ensembles_and_both_modes_are_drawn_and_a_restriction_is_obeyed():
    plans = [sample_plan(clip_seed(2, i)) for i in range(300)]
    drawn = {s.ensemble for p in plans for s in p.sections}
    assert drawn == set(SamplingConfig().ensembles)
    assert {s.major for p in plans for s in p.sections} == {True, False}
    assert {s.percussion for p in plans for s in p.sections} == {True, False}
    only = SamplingConfig(ensembles=("piano", "rock"))
    restricted = {s.ensemble for i in range(50) for s in sample_plan(clip_seed(2, i), only).sections}
    assert restricted == {"piano", "rock"}


def test_short_clips_have_no_room_for_changes_and_bad_configs_are_config_errors():
    short = SamplingConfig(min_duration_s=6.0, max_duration_s=8.0, change_fraction=1.0)
    assert all(len(sample_plan(clip_seed(3, i), short).sections) <= 1 for i in range(30))
    with pytest.raises(ConfigError, match="change_fraction"):
        SamplingConfig(change_fraction=1.5)
    with pytest.raises(ConfigError, match="ensembles"):
        SamplingConfig(ensembles=("kazoo",))
    with pytest.raises(ConfigError, match="min_duration_s"):
        SamplingConfig(min_duration_s=30.0, max_duration_s=20.0)

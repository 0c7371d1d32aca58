"""Group-disjoint stratified split: disjointness, stratification, determinism, errors."""

from collections import Counter
from pathlib import Path

import pytest

from damer_core.errors import ConfigError
from train.datasets.clip import Clip
from train.datasets.split import group_split
from train.errors import DatasetError

SIGNS = {1: (0.5, 0.5), 2: (-0.5, 0.5), 3: (-0.5, -0.5), 4: (0.5, -0.5)}


def make_clips(n_groups: int = 120, seed_sizes: tuple[int, ...] = (1, 1, 2, 1, 3, 1, 5)) -> list[Clip]:
    clips = []
    for g in range(n_groups):
        for k in range(seed_sizes[g % len(seed_sizes)]):
            quadrant = (g + k) % 4 + 1
            v, a = SIGNS[quadrant]
            clips.append(
                Clip(
                    track_id=f"{g}-{k}",
                    source="test",
                    group=f"artist{g}",
                    valence=v,
                    arousal=a,
                    audio_path=Path(f"{g}-{k}.mp3"),
                )
            )
    return clips


def test_groups_never_straddle_and_quadrants_are_balanced():
    clips = make_clips()
    train, validation = group_split(clips, 0.25, seed=0)
    assert not {c.group for c in train} & {c.group for c in validation}
    assert sorted(c.key for c in train + validation) == sorted(c.key for c in clips)
    totals = Counter(c.quadrant for c in clips)
    chosen = Counter(c.quadrant for c in validation)
    for quadrant in (1, 2, 3, 4):
        assert abs(chosen[quadrant] - 0.25 * totals[quadrant]) <= 1.0, (quadrant, chosen, totals)


def test_same_seed_same_split_regardless_of_input_order_and_other_seed_differs():
    clips = make_clips()
    _, first = group_split(clips, 0.3, seed=7)
    _, again = group_split(list(reversed(clips)), 0.3, seed=7)
    _, other = group_split(clips, 0.3, seed=8)
    assert {c.key for c in first} == {c.key for c in again}
    assert {c.key for c in first} != {c.key for c in other}


def test_outputs_keep_input_order():
    clips = make_clips(40)
    train, validation = group_split(clips, 0.5, seed=1)
    index = {c.key: i for i, c in enumerate(clips)}
    assert [index[c.key] for c in train] == sorted(index[c.key] for c in train)
    assert [index[c.key] for c in validation] == sorted(index[c.key] for c in validation)


def test_errors():
    clips = make_clips(10)
    with pytest.raises(ConfigError, match="validation_fraction"):
        group_split(clips, 1.0, seed=0)
    with pytest.raises(DatasetError, match="appears more than once"):
        group_split(clips + clips[:1], 0.2, seed=0)
    one_group = [
        Clip(track_id=str(i), source="t", group="same", valence=0.5, arousal=0.5, audio_path=Path("x"))
        for i in range(5)
    ]
    with pytest.raises(DatasetError, match="cannot split 5 clips in 1 groups"):
        group_split(one_group, 0.2, seed=0)

"""Group-disjoint, stratified, seeded train/validation splits (e.g. hold out whole 4Q artists), and
group-disjoint stratified K-fold partitions for cross-validation.

Algorithm: group the clips by :attr:`Clip.group`; shuffle the sorted group names with
``numpy.random.default_rng(seed)``; walk the shuffled groups and move a group to validation whenever that
brings the validation set's per-stratum counts (by default: per quadrant) closer, in L1 distance, to
``validation_fraction`` times the whole set's counts. Small groups fill what large ones would overshoot, so
strata are matched as closely as the group sizes allow. The result depends only on the clips' keys,
groups and strata, the fraction and the seed — not on the order of the input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence

import numpy as np

from damer_core.errors import ConfigError
from train.datasets.clip import Clip
from train.errors import DatasetError


def _by_quadrant(clip: Clip) -> Hashable:
    return clip.quadrant


def group_split(
    clips: Sequence[Clip],
    validation_fraction: float,
    seed: int,
    stratum: Callable[[Clip], Hashable] = _by_quadrant,
) -> tuple[list[Clip], list[Clip]]:
    """Split ``clips`` into ``(train, validation)`` with no group on both sides.

    Args:
        clips: the clips; their ``key`` must be unique.
        validation_fraction: target share of clips in validation, in (0, 1).
        seed: seed of the group shuffle.
        stratum: the stratum of a clip (default: its quadrant, ``None`` when unlabelled).

    Returns:
        Train and validation clips, each in input order.

    Raises:
        ConfigError: ``validation_fraction`` outside (0, 1).
        DatasetError: duplicate clip keys, or a side would be empty (too few groups).
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ConfigError(f"validation_fraction: must be in (0, 1), got {validation_fraction!r}")
    keys = Counter(clip.key for clip in clips)
    repeated = [key for key, count in keys.items() if count > 1]
    if repeated:
        raise DatasetError(f"clip '{repeated[0]}' appears more than once in the set to split")
    members: dict[str, Counter] = {}
    for clip in clips:
        members.setdefault(clip.group, Counter())[stratum(clip)] += 1
    target = {s: validation_fraction * n for s, n in sum(members.values(), Counter()).items()}
    chosen: Counter = Counter()
    validation_groups: set[str] = set()
    names = sorted(members)
    for index in np.random.default_rng(seed).permutation(len(names)):
        counts = members[names[index]]
        gain = sum(abs(chosen[s] - target[s]) - abs(chosen[s] + counts[s] - target[s]) for s in counts)
        if gain > 0:
            chosen.update(counts)
            validation_groups.add(names[index])
    train = [clip for clip in clips if clip.group not in validation_groups]
    validation = [clip for clip in clips if clip.group in validation_groups]
    if not train or not validation:
        raise DatasetError(f"cannot split {len(clips)} clips in {len(names)} groups at fraction {validation_fraction}")
    return train, validation


def group_folds(
    clips: Sequence[Clip], folds: int, seed: int, stratum: Callable[[Clip], Hashable] = _by_quadrant
) -> list[int]:
    """Assign every clip to one of ``folds`` folds with no group in two folds, strata balanced.

    Algorithm: the sorted group names are shuffled with ``numpy.random.default_rng(seed)`` (so another seed
    gives another partition, as repeated cross-validation needs); each group in turn goes to the fold where
    it most reduces the L1 distance between that fold's per-stratum counts and its target (``1 / folds`` of
    the whole set's), ties to the fold with fewest clips. Depends only on the clips' keys, groups and
    strata, ``folds`` and ``seed``.

    Returns:
        The fold index (``0 .. folds - 1``) of each clip, in input order.

    Raises:
        ConfigError: ``folds < 2``.
        DatasetError: duplicate clip keys, or fewer groups than folds.
    """
    if folds < 2:
        raise ConfigError(f"folds: must be >= 2, got {folds!r}")
    keys = Counter(clip.key for clip in clips)
    repeated = [key for key, count in keys.items() if count > 1]
    if repeated:
        raise DatasetError(f"clip '{repeated[0]}' appears more than once in the set to split")
    members: dict[str, Counter] = {}
    for clip in clips:
        members.setdefault(clip.group, Counter())[stratum(clip)] += 1
    names = sorted(members)
    if len(names) < folds:
        raise DatasetError(f"cannot cut {len(clips)} clips in {len(names)} groups into {folds} folds")
    target = {s: n / folds for s, n in sum(members.values(), Counter()).items()}
    counts = [Counter() for _ in range(folds)]
    sizes = [0] * folds
    fold_of: dict[str, int] = {}
    for index in np.random.default_rng(seed).permutation(len(names)):
        group = members[names[index]]

        def cost(fold: int, group: Counter = group) -> tuple[float, int]:
            gain = sum(
                abs(counts[fold][s] - target[s]) - abs(counts[fold][s] + n - target[s]) for s, n in group.items()
            )
            return (-gain, sizes[fold])

        best = min(range(folds), key=cost)
        counts[best].update(group)
        sizes[best] += sum(group.values())
        fold_of[names[index]] = best
    return [fold_of[clip.group] for clip in clips]

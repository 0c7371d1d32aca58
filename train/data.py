"""Training data: the recipe's sources read into one corpus, their features, and seeded crops with per-token
targets.

Pipeline::

    recipe.data.sources ─▶ readers ─▶ Corpus (clips, pools, validation split)
                                          │
                        FeatureStore ◀────┘   audio: train.feature_cache (computed once, on disk)
                              │               Memo2496: the reader's arrays
    step s ─▶ plan_step(seed, s) ─▶ (clip, start) per crop ─▶ assemble_batch ─▶ one process's tensors

Crops are drawn with replacement: a source is chosen with probability proportional to its ``weight`` (among
the sources of the same role), a clip uniformly within it, a start frame uniformly where the whole crop
fits. The draw for step ``s`` depends only on ``(seed, s)``, so a run resumed at step ``s`` sees exactly the
crops an uninterrupted run would, and ``N`` processes each take their slice of one global batch.

Targets per token (``N = crop_frames // frames_per_token`` tokens of ``frames_per_token`` frames): a clip's
dynamic labels interpolated at the token's end time (``DynamicLabels.at``); where a clip has no dynamic
label at that time (before the first, after the last, or no dynamic labels at all) its clip-level label.
``NaN`` marks a missing label; tokens past the end of a short clip are padding (``valid`` is false). Crops of
unlabelled sources carry ``NaN`` targets (their labels, if any, are ignored).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from damer_core.errors import ConfigError
from damer_core.spec import FeatureSpec
from train.datasets import Clip, ClipFeatures, group_folds, group_split, read_dataset
from train.errors import DatasetError
from train.feature_cache import FeatureCache
from train.recipe import DataConfig, SourceConfig, TrainRecipe, ValidationConfig

LICENCES = {
    "4q": "research use only (4Q audio emotion dataset, Panda, Malheiro & Paiva 2018; AllMusic previews)",
}


@dataclass(frozen=True)
class Pool:
    """The training clips of one source, for crop sampling.

    Attributes:
        name: the source's name in the recipe.
        weight: its sampling weight.
        clips: indices into :attr:`Corpus.clips`, shape ``(n,)``.
    """

    name: str
    weight: float
    clips: np.ndarray


class FeatureStore:
    """Features of the clips of a corpus: a Memo2496-style clip's own arrays, or the feature cache's entry
    for an audio clip. :meth:`prepare` computes missing cache entries (once, before training) and learns
    the clips' lengths.

    Args:
        clips: the clips.
        spec: the front-end spec (audio clips need ``spec.source == "audio"``).
        cache_dir: feature cache folder.
        cache_dtype: its storage dtype.

    Attributes:
        n_frames: ``(n_clips,)`` frames of each prepared clip, -1 for the others.
    """

    def __init__(
        self, clips: Sequence[Clip], spec: FeatureSpec, cache_dir: str | Path, cache_dtype: str = "float32"
    ) -> None:
        self.clips = list(clips)
        has_audio = any(clip.audio_path is not None for clip in self.clips)
        self.cache = FeatureCache(Path(cache_dir).expanduser(), spec, cache_dtype) if has_audio else None
        self.hashes: dict[int, str] = {}
        self.n_frames = np.full(len(self.clips), -1, dtype=np.int64)

    def prepare(
        self, indices: Sequence[int], workers: int = 1, progress: Callable[[int, int], None] | None = None
    ) -> None:
        """Make the clips ``indices`` ready: compute their missing cache entries with ``workers`` processes
        (calling ``progress(done, total)``) and record their lengths.

        Raises:
            AudioError: an audio file cannot be decoded.
        """
        audio = [int(i) for i in indices if self.clips[i].audio_path is not None]
        if audio:
            assert self.cache is not None
            hashes = self.cache.fill([self.clips[i].audio_path for i in audio], workers, progress)
            self.hashes.update(zip(audio, hashes, strict=True))
        for i in indices:
            clip = self.clips[i]
            if clip.features is not None:
                self.n_frames[i] = clip.features.n_frames
            else:
                self.n_frames[i] = _entry_frames(self.cache.entry_path(self.hashes[int(i)]))

    def features(self, index: int) -> ClipFeatures:
        """Both views of the prepared clip ``index`` (float32 ``(n_frames, bins)``)."""
        clip = self.clips[index]
        if clip.features is not None:
            return clip.features
        assert self.cache is not None
        cached = self.cache.load(self.hashes[index])
        return cached if cached is not None else self.cache.get(clip.audio_path)


def _entry_frames(entry: Path) -> int:
    """Frames of a feature-cache entry, read from the ``.npy`` header of its ``mel`` array (no data read)."""
    try:
        with zipfile.ZipFile(entry) as archive, archive.open("mel.npy") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, _, _ = read_header(handle)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{entry}: feature cache entry unreadable ({exc}); delete it to recompute") from None
    return int(shape[0])


@dataclass
class Corpus:
    """Everything a run reads: the clips, how they are split, their features.

    Attributes:
        spec: the front-end spec.
        clips: every clip (training, validation and test), in the order of the sources.
        source_index: ``(n_clips,)`` index of each clip's source in ``recipe.data.sources``.
        labelled: pools of labelled training clips (one per labelled source that keeps training clips).
        unlabelled: pools of unlabelled clips.
        validation: indices of the validation clips.
        test: indices of the test clips (see :class:`train.recipe.DataConfig`).
        store: their features.
        sources: the recipe's sources.
    """

    spec: FeatureSpec
    clips: list[Clip]
    source_index: np.ndarray
    labelled: list[Pool]
    unlabelled: list[Pool]
    validation: np.ndarray
    test: np.ndarray
    store: FeatureStore
    sources: tuple[SourceConfig, ...]

    def training_indices(self) -> np.ndarray:
        """Indices of every training clip (labelled and unlabelled pools)."""
        pools = [pool.clips for pool in self.labelled + self.unlabelled]
        return np.sort(np.concatenate(pools)) if pools else np.zeros(0, dtype=np.int64)

    def summary(self) -> list[dict]:
        """Per source: name, kind, role, clip counts and hours of training, validation and test audio, licence."""
        frame_rate = self.spec.frame_rate
        validation, test = set(self.validation.tolist()), set(self.test.tolist())
        rows = []
        for index, source in enumerate(self.sources):
            members = np.flatnonzero(self.source_index == index)
            held_out = np.array([i for i in members if i in validation], dtype=np.int64)
            tested = np.array([i for i in members if i in test], dtype=np.int64)
            trained = np.array([i for i in members if i not in validation and i not in test], dtype=np.int64)
            rows.append(
                {
                    "name": source.name,
                    "kind": source.kind,
                    "role": source.role,
                    "path": source.path,
                    "train_clips": int(trained.size),
                    "train_hours": float(self.store.n_frames[trained].sum()) / frame_rate / 3600,
                    "validation_clips": int(held_out.size),
                    "validation_hours": float(self.store.n_frames[held_out].sum()) / frame_rate / 3600,
                    "test_clips": int(tested.size),
                    "licence": source_licence(source),
                }
            )
        return rows


def source_licence(source: SourceConfig) -> str:
    """What is known of a source's licence: :data:`LICENCES` by reader kind, or for an audio folder the
    licences listed in its ``manifest.csv`` (as written by ``python -m train.fetch_music``)."""
    if source.kind in LICENCES:
        return LICENCES[source.kind]
    manifest = source.resolved_path() / "manifest.csv"
    if source.kind == "folder" and manifest.is_file():
        with open(manifest, newline="", encoding="utf-8") as handle:
            licences = sorted({row.get("licence") or "" for row in csv.DictReader(handle)} - {""})
        if licences:
            return "per track (manifest.csv): " + "; ".join(licences)
    return "not recorded: see the dataset's own terms"


def read_source(source: SourceConfig) -> list[Clip]:
    """The clips of one source (an unlabelled source's clips carry no labels, whatever its reader gives)."""
    clips = read_dataset(source.kind, source.resolved_path(), **source.options)
    if source.role == "unlabelled":
        clips = [
            dataclasses.replace(clip, valence=math.nan, arousal=math.nan, dynamic=None, confidence=1.0)
            for clip in clips
        ]
    return clips


def split_source(
    source: SourceConfig, members: Sequence[Clip], data: DataConfig
) -> tuple[list[Clip], dict[str, list[Clip]]]:
    """Split the clips of one source as training does: the test split first (``data.test``), then the
    validation split (``data.validation``) from the clips left, each by group (artist or track, see
    :func:`train.datasets.group_split`) when the split names this source.

    Returns:
        the training clips, and the held-out clips per split name (``"test"``, ``"validation"``) that this
        source contributes to.
    """
    trained, held_out = list(members), {}
    for name, split in (("test", data.test), ("validation", data.validation)):
        if source.name == split.source and trained:
            trained, held_out[name] = _split(trained, split)
    return trained, held_out


def _split(clips: list[Clip], split: ValidationConfig) -> tuple[list[Clip], list[Clip]]:
    """``(kept, held out)`` by one split of the recipe: a fold of a group K-fold, or a fraction by group."""
    if split.folds:
        fold_of = group_folds(clips, split.folds, split.seed)
        return (
            [clip for clip, fold in zip(clips, fold_of, strict=True) if fold != split.fold],
            [clip for clip, fold in zip(clips, fold_of, strict=True) if fold == split.fold],
        )
    if split.fraction >= 1.0:
        return [], clips
    return group_split(clips, split.fraction, split.seed)


def read_corpus(recipe: TrainRecipe, spec: FeatureSpec | None = None) -> Corpus:
    """Read every source of ``recipe`` and split off the test and validation clips; no clip is prepared yet
    (see :meth:`FeatureStore.prepare`).

    Args:
        recipe: the training recipe.
        spec: the front-end spec of the features (default: the recipe's).

    Raises:
        ConfigError: a reader option is unknown, or the sources do not match ``recipe.features.source``.
        DatasetError: as the readers; two sources yield the same clip key; a source has no clip.
    """
    spec = recipe.features if spec is None else spec
    clips: list[Clip] = []
    source_index: list[int] = []
    held_out: dict[str, list[int]] = {"validation": [], "test": []}
    pools: dict[str, list[Pool]] = {"labelled": [], "unlabelled": []}
    for index, source in enumerate(recipe.data.sources):
        members = read_source(source)
        if not members:
            raise DatasetError(f"{source.path}: source {source.name!r} holds no clips")
        check_source_spec(source, members, spec)
        trained, kept = split_source(source, members, recipe.data)
        split_keys = {name: {clip.key for clip in held} for name, held in kept.items()}
        first = len(clips)
        for clip in members:
            for name, keys in split_keys.items():
                if clip.key in keys:
                    held_out[name].append(len(clips))
            clips.append(clip)
            source_index.append(index)
        if trained:
            kept_keys = {clip.key for clip in trained}
            train_indices = [first + i for i, clip in enumerate(members) if clip.key in kept_keys]
            pools[source.role].append(Pool(source.name, source.weight, np.array(train_indices, dtype=np.int64)))
    keys: dict[str, str] = {}
    for clip, index in zip(clips, source_index, strict=True):
        name = recipe.data.sources[index].name
        if clip.key in keys:
            raise DatasetError(
                f"clip '{clip.key}' comes from both source {keys[clip.key]!r} and {name!r}; give one of them a "
                "distinct 'source' option"
            )
        keys[clip.key] = name
    if not pools["labelled"]:
        raise DatasetError("no labelled training clips left after the test and validation splits")
    return Corpus(
        spec=spec,
        clips=clips,
        source_index=np.array(source_index, dtype=np.int64),
        labelled=pools["labelled"],
        unlabelled=pools["unlabelled"],
        validation=np.array(held_out["validation"], dtype=np.int64),
        test=np.array(held_out["test"], dtype=np.int64),
        store=FeatureStore(clips, spec, recipe.cache_dir, recipe.cache_dtype),
        sources=recipe.data.sources,
    )


def check_source_spec(source: SourceConfig, clips: Sequence[Clip], spec: FeatureSpec) -> None:
    """Make sure ``spec`` describes the features of ``clips``: audio clips need ``spec.source == "audio"``,
    precomputed ones a spec of theirs with the same numbers of bins.

    Raises:
        ConfigError: they do not match.
    """
    precomputed = clips[0].features is not None
    if precomputed and spec.source == "audio":
        raise ConfigError(
            f"source {source.name!r} holds precomputed features, not audio, but the feature spec is computed from "
            f"audio (source 'audio'); a recipe for it needs features.source: {source.kind}"
        )
    if not precomputed and spec.source != "audio":
        raise ConfigError(
            f"feature spec source {spec.source!r} describes precomputed features, but source {source.name!r} is audio"
        )
    if precomputed:
        bins = (clips[0].features.mel.shape[1], clips[0].features.coch.shape[1])
        if bins != (spec.mel.n_mels, spec.cochleagram.n_channels):
            raise ConfigError(
                f"source {source.name!r} has {bins[0]} Mel bins and {bins[1]} cochleagram channels, the feature spec "
                f"{spec.mel.n_mels} and {spec.cochleagram.n_channels}"
            )


def input_stats(
    store: FeatureStore, indices: np.ndarray, max_clips: int, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-bin mean and standard deviation of every view over every frame of the training clips ``indices``
    (a seeded sample of ``max_clips`` of them when ``max_clips`` > 0), accumulated in float64.

    Returns:
        view name (``"mel"``, ``"cochleagram"``, and ``"musicnn"`` when the features have it) ->
        ``(mean, std)``, float64 ``(bins,)``; a std is at least ``1e-4``.
    """
    chosen = np.asarray(indices, dtype=np.int64)
    if 0 < max_clips < chosen.size:
        chosen = np.sort(np.random.default_rng([seed, 0x57A7]).choice(chosen, size=max_clips, replace=False))
    sums: dict[str, list[np.ndarray]] = {}
    count = 0
    for index in chosen:
        features = store.features(int(index))
        for view, x in feature_views(features).items():
            x = x.astype(np.float64)
            if view not in sums:
                sums[view] = [np.zeros(x.shape[1]), np.zeros(x.shape[1])]
            sums[view][0] += x.sum(axis=0)
            sums[view][1] += (x * x).sum(axis=0)
        count += features.n_frames
    result = {}
    for view, (total, squares) in sums.items():
        mean = total / count
        variance = np.maximum(squares / count - mean * mean, 0.0)
        result[view] = (mean, np.maximum(np.sqrt(variance), 1e-4))
    return result


def feature_views(features: ClipFeatures) -> dict[str, np.ndarray]:
    """The views of ``features`` by model view name (``musicnn`` only when present)."""
    views = {"mel": features.mel, "cochleagram": features.coch}
    if features.musicnn is not None:
        views["musicnn"] = features.musicnn
    return views


def crop_frames(spec: FeatureSpec, crop_seconds: float, frames_per_token: int) -> int:
    """Frames in a crop of ``crop_seconds``: rounded to whole tokens, at least one token."""
    tokens = max(1, round(crop_seconds * spec.frame_rate / frames_per_token))
    return tokens * frames_per_token


def draw_crops(
    rng: np.random.Generator, pools: Sequence[Pool], count: int, n_frames: np.ndarray, length: int
) -> list[tuple[int, int]]:
    """``count`` crops ``(clip index, start frame)`` drawn as described in the module docstring."""
    if count == 0 or not pools:
        return []
    weights = np.array([pool.weight for pool in pools], dtype=np.float64)
    chosen_pools = rng.choice(len(pools), size=count, p=weights / weights.sum())
    crops = []
    for pool_index in chosen_pools:
        pool = pools[pool_index]
        clip = int(pool.clips[rng.integers(pool.clips.size)])
        start = int(rng.integers(max(0, int(n_frames[clip]) - length) + 1))
        crops.append((clip, start))
    return crops


@dataclass(frozen=True)
class StepPlan:
    """The crops of one step: a global batch for all processes."""

    labelled: list[tuple[int, int]]
    unlabelled: list[tuple[int, int]]


def plan_step(corpus: Corpus, seed: int, step: int, labelled: int, unlabelled: int, length: int) -> StepPlan:
    """The global batch of step ``step``: ``labelled`` and ``unlabelled`` crops of ``length`` frames, drawn
    from a generator seeded by ``(seed, step)`` only."""
    rng = np.random.default_rng([seed, step])
    n_frames = corpus.store.n_frames
    return StepPlan(
        draw_crops(rng, corpus.labelled, labelled, n_frames, length),
        draw_crops(rng, corpus.unlabelled, unlabelled, n_frames, length),
    )


def token_targets(clip: Clip, spec: FeatureSpec, start: int, n_tokens: int, frames_per_token: int) -> np.ndarray:
    """Valence/arousal targets ``(n_tokens, 2)`` (float32, ``NaN`` = no label) of the tokens of a crop
    starting at frame ``start``, at each token's end time (see the module docstring)."""
    static = np.array([clip.valence, clip.arousal], dtype=np.float32)
    targets = np.broadcast_to(static, (n_tokens, 2)).copy()
    if clip.dynamic is not None and n_tokens > 0:
        last_frames = start + (np.arange(n_tokens) + 1) * frames_per_token - 1
        times = np.array([spec.frame_end_seconds(int(frame)) for frame in last_frames])
        dynamic = clip.dynamic.at(times)
        targets = np.where(np.isnan(dynamic), targets, dynamic)
    return targets


def assemble_batch(
    corpus: Corpus, crops: Sequence[tuple[int, int]], length: int, frames_per_token: int, labelled: bool
) -> dict[str, torch.Tensor]:
    """Tensors of a list of crops of ``length`` frames (``N = length // frames_per_token`` tokens).

    Returns:
        ``mel`` ``(B, length, n_mels)``, ``coch`` ``(B, length, n_channels)`` and ``musicnn`` ``(B, length, size)``
        (size 0 without that view) float32 (zero padding after a short clip's end), ``target`` ``(B, N, 2)`` float32
        (``NaN`` = no label; all ``NaN`` unless ``labelled``), ``valid`` ``(B, N)`` bool (token inside the clip),
        ``confidence`` ``(B,)`` float32, ``source`` ``(B,)`` and ``track`` ``(B,)`` int64 (index of the clip's
        source in the recipe, and of the clip in the corpus).
    """
    spec = corpus.spec
    n_tokens = length // frames_per_token
    batch = len(crops)
    mel = np.zeros((batch, length, spec.mel.n_mels), dtype=np.float32)
    coch = np.zeros((batch, length, spec.cochleagram.n_channels), dtype=np.float32)
    musicnn = np.zeros((batch, length, 0 if spec.musicnn is None else spec.musicnn.size), dtype=np.float32)
    target = np.full((batch, n_tokens, 2), np.nan, dtype=np.float32)
    valid = np.zeros((batch, n_tokens), dtype=bool)
    confidence = np.ones(batch, dtype=np.float32)
    for row, (index, start) in enumerate(crops):
        features = corpus.store.features(index)
        stop = min(start + length, features.n_frames)
        mel[row, : stop - start] = features.mel[start:stop]
        coch[row, : stop - start] = features.coch[start:stop]
        if features.musicnn is not None:
            musicnn[row, : stop - start] = features.musicnn[start:stop]
        inside = (stop - start) // frames_per_token
        valid[row, :inside] = True
        clip = corpus.clips[index]
        if labelled:
            target[row, :inside] = token_targets(clip, spec, start, inside, frames_per_token)
            confidence[row] = clip.confidence
    return {
        "mel": torch.from_numpy(mel),
        "coch": torch.from_numpy(coch),
        "musicnn": torch.from_numpy(musicnn),
        "target": torch.from_numpy(target),
        "valid": torch.from_numpy(valid),
        "confidence": torch.from_numpy(confidence),
        "source": torch.from_numpy(corpus.source_index[[index for index, _ in crops]].astype(np.int64)),
        "track": torch.tensor([index for index, _ in crops], dtype=torch.int64),
    }


class StepBatches(torch.utils.data.Dataset):
    """Map-style dataset whose item ``s`` is this process's share of the batch of step ``s``: a dict with
    ``"labelled"`` and ``"unlabelled"`` batches (see :func:`assemble_batch`; the latter may have ``B = 0``).

    Args:
        corpus: the corpus.
        seed: the run's seed.
        steps: number of steps of the run (the dataset's length).
        labelled, unlabelled: global crops per step.
        length: frames per crop.
        frames_per_token: the model's.
        rank, world: this process's index and the number of processes; both batch sizes must be multiples
            of ``world``.
    """

    def __init__(
        self,
        corpus: Corpus,
        seed: int,
        steps: int,
        labelled: int,
        unlabelled: int,
        length: int,
        frames_per_token: int,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if labelled % world or unlabelled % world:
            raise ConfigError(
                f"batch sizes ({labelled} labelled, {unlabelled} unlabelled) must be multiples of the number of "
                f"processes ({world})"
            )
        self.corpus, self.seed, self.steps = corpus, seed, steps
        self.sizes, self.length, self.frames_per_token = (labelled, unlabelled), length, frames_per_token
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int) -> dict[str, dict[str, torch.Tensor]]:
        plan = plan_step(self.corpus, self.seed, step, *self.sizes, self.length)
        out = {}
        for role, crops, size in (
            ("labelled", plan.labelled, self.sizes[0]),
            ("unlabelled", plan.unlabelled, self.sizes[1]),
        ):
            share = size // self.world
            mine = crops[self.rank * share : (self.rank + 1) * share]
            out[role] = assemble_batch(self.corpus, mine, self.length, self.frames_per_token, role == "labelled")
        return out

"""The data pipeline: the corpus and its split, per-token targets, seeded crop plans shared out between
processes, padded batches, input statistics."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from damer_core.errors import ConfigError
from damer_core.spec import FeatureSpec
from train.data import (
    StepBatches,
    assemble_batch,
    crop_frames,
    input_stats,
    plan_step,
    read_corpus,
    source_licence,
    token_targets,
)
from train.datasets import Clip, ClipFeatures, DynamicLabels
from train.errors import DatasetError
from train.recipe import DataConfig, SourceConfig, TrainRecipe, ValidationConfig, load_recipe

SPEC = FeatureSpec()


def prepared_corpus(recipe: TrainRecipe):
    corpus = read_corpus(recipe)
    corpus.store.prepare(range(len(corpus.clips)))
    return corpus


def test_corpus_split_is_group_disjoint_and_unlabelled_clips_lose_their_labels(tiny_run_dir: Path) -> None:
    corpus = prepared_corpus(load_recipe("recipe.yaml"))
    assert [pool.name for pool in corpus.labelled] == ["tones"] and [pool.name for pool in corpus.unlabelled] == ["hum"]
    train_groups = {corpus.clips[i].group for i in corpus.labelled[0].clips}
    validation_groups = {corpus.clips[i].group for i in corpus.validation}
    assert validation_groups and not train_groups & validation_groups
    assert len(train_groups) + len(validation_groups) == 12
    assert all(not corpus.clips[i].is_labelled for i in corpus.unlabelled[0].clips)
    assert (corpus.store.n_frames == SPEC.n_frames(44100)).all()


def test_whole_source_can_be_held_out(tiny_run_dir: Path) -> None:
    recipe = load_recipe("recipe.yaml")
    sources = (
        recipe.data.sources[0],
        dataclasses.replace(recipe.data.sources[0], name="again", options={"source": "again"}),
    )
    data = DataConfig(sources=sources, validation=ValidationConfig(source="again", fraction=1.0))
    corpus = read_corpus(dataclasses.replace(recipe, data=data))
    assert [pool.name for pool in corpus.labelled] == ["tones"] and corpus.validation.tolist() == list(range(12, 24))


def test_two_sources_with_the_same_clip_keys_are_refused(tiny_run_dir: Path) -> None:
    recipe = load_recipe("recipe.yaml")
    sources = (recipe.data.sources[0], dataclasses.replace(recipe.data.sources[0], name="again"))
    with pytest.raises(DatasetError, match="comes from both source 'tones' and 'again'"):
        read_corpus(dataclasses.replace(recipe, data=DataConfig(sources=sources)))


def test_audio_sources_need_an_audio_spec(tiny_run_dir: Path) -> None:
    recipe = dataclasses.replace(load_recipe("recipe.yaml"), features=FeatureSpec(source="memo2496"))
    with pytest.raises(ConfigError, match="describes precomputed features, but source 'tones' is audio"):
        read_corpus(recipe)


def test_token_targets_interpolate_dynamic_labels_at_token_ends() -> None:
    dynamic = DynamicLabels(
        np.array([0.5, 1.0, 2.0]),
        np.array([0.0, 0.5, -0.5], dtype=np.float32),
        np.array([np.nan, 0.2, 0.4], dtype=np.float32),
    )
    clip = Clip("a", "s", "g", valence=0.9, arousal=-0.9, audio_path=Path("a.wav"), dynamic=dynamic)
    start, per_token = 30, 4
    targets = token_targets(clip, SPEC, start, 20, per_token)
    for n in range(20):
        last_frame = start + (n + 1) * per_token - 1
        t = (last_frame * 256 + 2048) / 22050
        valence = np.interp(t, [0.5, 1.0, 2.0], [0.0, 0.5, -0.5]) if 0.5 <= t <= 2.0 else 0.9
        arousal = np.interp(t, [1.0, 2.0], [0.2, 0.4]) if 1.0 <= t <= 2.0 else -0.9
        assert targets[n].tolist() == pytest.approx([valence, arousal], abs=1e-6), n
    static = token_targets(dataclasses.replace(clip, dynamic=None), SPEC, start, 3, per_token)
    np.testing.assert_allclose(static, [[0.9, -0.9]] * 3, atol=1e-7)


def test_step_plans_depend_only_on_seed_and_step_and_are_shared_between_processes(tiny_run_dir: Path) -> None:
    corpus = prepared_corpus(load_recipe("recipe.yaml"))
    a, b = plan_step(corpus, 5, 3, 4, 2, 86), plan_step(corpus, 5, 3, 4, 2, 86)
    assert a == b and plan_step(corpus, 5, 4, 4, 2, 86) != a and plan_step(corpus, 6, 3, 4, 2, 86) != a
    assert {clip for clip, _ in a.labelled} <= set(corpus.labelled[0].clips.tolist())
    assert {clip for clip, _ in a.unlabelled} <= set(corpus.unlabelled[0].clips.tolist())
    assert all(0 <= start <= corpus.store.n_frames[clip] - 86 for clip, start in a.labelled + a.unlabelled)
    whole = StepBatches(corpus, 5, 10, 4, 2, 86, 2)[3]
    halves = [StepBatches(corpus, 5, 10, 4, 2, 86, 2, rank, 2)[3] for rank in (0, 1)]
    for role in ("labelled", "unlabelled"):
        for key, value in whole[role].items():
            joined = torch.cat([half[role][key] for half in halves])
            assert torch.equal(joined.nan_to_num(9.0), value.nan_to_num(9.0)), (role, key)
    with pytest.raises(ConfigError, match="multiples of the number of processes"):
        StepBatches(corpus, 5, 10, 3, 2, 86, 2, 0, 2)


def test_assembled_batches_pad_short_clips_and_mask_missing_labels() -> None:
    rng = np.random.default_rng(0)
    long = ClipFeatures(
        rng.standard_normal((50, 128)).astype(np.float32), rng.standard_normal((50, 84)).astype(np.float32)
    )
    short = ClipFeatures(long.mel[:9], long.coch[:9])
    clips = [
        Clip("long", "s", "g0", valence=0.5, arousal=math.nan, features=long, confidence=0.5),
        Clip("short", "s", "g1", valence=-0.25, arousal=0.75, features=short),
    ]
    recipe = TrainRecipe(
        data=DataConfig(sources=(SourceConfig(kind="memo2496", path="x"),)), features=FeatureSpec(source="memo2496")
    )
    corpus = read_corpus_from(clips, recipe)
    batch = assemble_batch(corpus, [(0, 10), (1, 0)], 16, 2, labelled=True)
    assert torch.equal(batch["mel"][0], torch.from_numpy(long.mel[10:26]))
    assert torch.equal(batch["mel"][1, :9], torch.from_numpy(short.mel)) and not batch["mel"][1, 9:].any()
    assert batch["valid"].tolist() == [[True] * 8, [True] * 4 + [False] * 4]
    assert torch.isnan(batch["target"][0, :, 1]).all() and (batch["target"][0, :, 0] == 0.5).all()
    assert batch["target"][1, :4].tolist() == [[-0.25, 0.75]] * 4
    assert torch.isnan(batch["target"][1, 4:]).all()
    assert batch["confidence"].tolist() == [0.5, 1.0] and batch["track"].tolist() == [0, 1]
    unlabelled = assemble_batch(corpus, [(0, 0)], 16, 2, labelled=False)
    assert torch.isnan(unlabelled["target"]).all() and unlabelled["confidence"].tolist() == [1.0]


def read_corpus_from(clips: list[Clip], recipe: TrainRecipe):
    """A corpus over given precomputed clips (one source, no validation)."""
    from train.data import Corpus, FeatureStore, Pool

    store = FeatureStore(clips, recipe.features, "unused")
    store.prepare(range(len(clips)))
    return Corpus(
        recipe.features,
        clips,
        np.zeros(len(clips), dtype=np.int64),
        [Pool("x", 1.0, np.arange(len(clips)))],
        [],
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        store,
        recipe.data.sources,
    )


def test_input_stats_are_the_moments_of_all_training_frames(tiny_run_dir: Path) -> None:
    corpus = prepared_corpus(load_recipe("recipe.yaml"))
    indices = corpus.training_indices()
    stats = input_stats(corpus.store, indices, 0, 0)
    assert set(stats) == {"mel", "cochleagram"}
    (mel_mean, mel_std), (coch_mean, coch_std) = stats["mel"], stats["cochleagram"]
    mel = np.concatenate([corpus.store.features(int(i)).mel for i in indices]).astype(np.float64)
    coch = np.concatenate([corpus.store.features(int(i)).coch for i in indices]).astype(np.float64)
    np.testing.assert_allclose(mel_mean, mel.mean(axis=0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mel_std, mel.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(coch_mean, coch.mean(axis=0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(coch_std, coch.std(axis=0), rtol=1e-6)
    sampled = input_stats(corpus.store, indices, 3, 0)["mel"][0]
    assert not np.allclose(sampled, mel_mean) and np.array_equal(
        sampled, input_stats(corpus.store, indices, 3, 0)["mel"][0]
    )


def test_crop_length_is_whole_tokens() -> None:
    assert crop_frames(SPEC, 10.0, 2) == 862 and crop_frames(SPEC, 1.0, 2) == 86 and crop_frames(SPEC, 0.001, 4) == 4


def test_licences_come_from_the_reader_kind_or_an_audio_folder_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text(
        "track,package,licence\na.ogg,p,GPL-2+\nb.ogg,q,CC-BY-SA-3.0\nc.ogg,p,GPL-2+\n"
    )
    assert (
        source_licence(SourceConfig(kind="folder", path=str(tmp_path)))
        == "per track (manifest.csv): CC-BY-SA-3.0; GPL-2+"
    )
    assert source_licence(SourceConfig(kind="4q", path=str(tmp_path))).startswith("research use only")
    assert source_licence(SourceConfig(kind="deam", path=str(tmp_path))).startswith("not recorded")

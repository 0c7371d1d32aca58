"""Cross-validation by artist (train/cv.py): folds, what each fold's run may see, scores and margins."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

import train.loop as loop
from damer_core.bundle import load_bundle
from damer_core.cli import main
from damer_core.config import to_mapping
from train.ablate import shortened
from train.cv import format_table, make_folds, run_cv, score
from train.data import FeatureStore
from train.datasets import Clip
from train.recipe import TrainRecipe, load_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def clips_of(groups: list[str], quadrants: list[int]) -> list[Clip]:
    corners = {1: (0.5, 0.5), 2: (-0.5, 0.5), 3: (-0.5, -0.5), 4: (0.5, -0.5)}
    return [
        Clip(
            track_id=f"t{i}", source="toy", group=g, valence=corners[q][0], arousal=corners[q][1], audio_path=Path("x")
        )
        for i, (g, q) in enumerate(zip(groups, quadrants, strict=True))
    ]


def with_validation_half(recipe: TrainRecipe) -> TrainRecipe:
    """The tiny recipe validates on half of each fold's training artists (a quarter of 8 clips is no one)."""
    validation = dataclasses.replace(recipe.data.validation, fraction=0.5)
    return dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, validation=validation))


def test_folds_keep_artists_whole_cover_every_clip_once_and_balance_quadrants() -> None:
    rng = np.random.default_rng(0)
    groups = [f"artist{rng.integers(60)}" for _ in range(300)]
    clips = clips_of(groups, [1 + i % 4 for i in range(300)])
    plan = make_folds(clips, 5, 2)
    assert [f.name for f in plan] == [f"r{r}/f{k}" for r in range(2) for k in range(5)]
    for repeat in range(2):
        masks = np.stack([f.held_out for f in plan if f.repeat == repeat])
        assert (masks.sum(axis=0) == 1).all()  # every clip held out exactly once per repeat
        for mask in masks:
            inside = {c.group for c, m in zip(clips, mask, strict=True) if m}
            outside = {c.group for c, m in zip(clips, mask, strict=True) if not m}
            assert inside and not inside & outside
            counts = Counter(c.quadrant for c, m in zip(clips, mask, strict=True) if m)
            assert max(counts.values()) - min(counts.values()) <= 6
    assert not all((a.held_out == b.held_out).all() for a, b in zip(plan[:5], plan[5:], strict=True))


def test_scores_are_accuracies_of_signs_and_quadrants() -> None:
    clips = clips_of(["a", "b", "c", "d"], [1, 2, 3, 4])
    high = np.array([[True, True], [True, True], [False, False], [True, False]])
    scores = score(clips, high, np.array([1, 1, 3, 4]))
    assert scores["valence.accuracy"] == 0.75 and scores["arousal.accuracy"] == 1.0
    assert scores["quadrant.accuracy"] == 0.75


def test_no_clip_of_a_fold_reaches_what_that_fold_fits(tiny_run_dir: Path, monkeypatch) -> None:
    """Training batches, input statistics and validation of a fold's run never read its held-out artists;
    only the final scoring of its exported model does."""
    reads: list[tuple[str, str]] = []
    phase = ["fit"]
    real_features, real_evaluate = FeatureStore.features, loop.evaluate_clips

    def features(self, index: int):
        reads.append((self.clips[index].key, phase[0]))
        return real_features(self, index)

    def evaluate(model, clips, *args, **kwargs):
        phase[0] = "validation" if clips and loop_test_keys.isdisjoint(c.key for c in clips) else "score"
        try:
            return real_evaluate(model, clips, *args, **kwargs)
        finally:
            phase[0] = "fit"

    loop_test_keys: set[str] = set()
    monkeypatch.setattr(FeatureStore, "features", features)
    monkeypatch.setattr(loop, "evaluate_clips", evaluate)
    recipe = with_validation_half(shortened(load_recipe("recipe.yaml"), 4))
    real_train = loop.train

    def train_one_fold(fold_recipe, out, progress=True):
        from train.data import read_corpus

        corpus = read_corpus(fold_recipe)
        loop_test_keys.clear()
        loop_test_keys.update(corpus.clips[int(i)].key for i in corpus.test)
        reads.clear()
        result = real_train(fold_recipe, out, progress=progress)
        fitted = {key for key, when in reads if when in ("fit", "validation")}
        assert loop_test_keys and not fitted & loop_test_keys
        assert {key for key, when in reads if when == "score"} == loop_test_keys
        return result

    monkeypatch.setattr("train.cv.train", train_one_fold)
    report = run_cv(recipe, Path("cv"), folds=3, repeats=1, progress=False, say=lambda line: None)
    assert len(report["systems"]["damer"]["per_fold"]) == 3
    stored = json.loads(Path("cv/cv.json").read_text())
    assert stored["n_clips"] == 12 and stored["folds"] == 3
    held = [json.loads(Path(f"cv/r0/f{k}/predictions.json").read_text())["keys"] for k in range(3)]
    assert sorted(sum(held, [])) == sorted({key for keys in held for key in keys}) and len(sum(held, [])) == 12
    assert "damer (this recipe)" in format_table(report)


def test_a_second_run_reuses_finished_folds_and_pairs_margins(tiny_run_dir: Path, monkeypatch) -> None:
    recipe = with_validation_half(shortened(load_recipe("recipe.yaml"), 2))
    first = run_cv(recipe, Path("cv"), folds=2, repeats=1, progress=False, say=lambda line: None)
    monkeypatch.setattr("train.cv.train", lambda *a, **k: pytest.fail("a finished fold was trained again"))
    again = run_cv(recipe, Path("cv"), folds=2, repeats=1, progress=False, say=lambda line: None)
    assert again["systems"] == first["systems"]


def test_the_cv_report_goes_into_the_model_card(tiny_run_dir: Path, capsys) -> None:
    recipe = with_validation_half(shortened(load_recipe("recipe.yaml"), 2))
    report = run_cv(recipe, Path("cv"), folds=2, repeats=1, progress=False, say=lambda line: None)
    Path("short.yaml").write_text(yaml.safe_dump(to_mapping(recipe)))
    assert main(["train", "short.yaml", "--out", "run", "--no-progress", "--cv-report", "cv/cv.json"]) == 0
    card = load_bundle("run/model.safetensors", device="cpu").card["cross_validation"]
    assert card["folds"] == 2 and card["summary"] == report["systems"]["damer"]["summary"]
    Path("bad.json").write_text("{}")
    assert main(["train", "short.yaml", "--out", "run2", "--no-progress", "--cv-report", "bad.json"]) == 2
    assert "not a damer cv report" in capsys.readouterr().err

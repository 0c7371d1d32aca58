"""Clip-level evaluation: the same numbers as averaging the streaming engine's outputs, horizons of 5 s and
10 s, strict JSON, and the ``damer eval`` command on a dataset folder and on a recipe."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from damer_core.bundle import random_bundle
from damer_core.cli import main
from damer_core.errors import ConfigError
from damer_core.model import DamerModel
from damer_core.spec import FeatureSpec
from train.commands.eval import detect_dataset
from train.data import FeatureStore, read_corpus
from train.datasets import Clip, ClipFeatures, read_dataset
from train.evaluate import evaluate_clips, strict_json
from train.metrics import va_metrics
from train.recipe import load_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(seed: int = 0) -> DamerModel:
    torch.manual_seed(seed)
    recipe = load_recipe(Path(__file__).resolve().parent / "tiny.yaml")
    model = DamerModel(recipe.model, FeatureSpec())
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return model.eval()


def test_clip_predictions_are_means_of_the_streamed_outputs() -> None:
    model = tiny_model()
    rng = np.random.default_rng(0)
    lengths, labels = (200, 700, 1000, 1301), [(0.5, -0.2), (-0.4, 0.6), (0.1, math.nan), (-0.7, -0.3)]
    clips, features = [], []
    for i, (n, (v, a)) in enumerate(zip(lengths, labels, strict=False)):
        features.append(
            ClipFeatures(rng.normal(-4, 2, (n, 128)).astype(np.float32), rng.normal(-8, 2, (n, 84)).astype(np.float32))
        )
        clips.append(Clip(str(i), "s", str(i), valence=v, arousal=a, features=features[-1]))
    report = evaluate_clips(model, clips, lambda i: features[i])
    expected = {h: ([], []) for h in (None, 5.0, 10.0)}
    for clip_features in features:
        stream = model.streaming()
        va, p = [], []
        bounds = np.sort(rng.choice(np.arange(1, clip_features.n_frames), 9, replace=False))
        parts = zip(np.split(clip_features.mel, bounds), np.split(clip_features.coch, bounds), strict=True)
        for part_mel, part_coch in parts:
            out = stream.push(part_mel, part_coch)
            va.append(out.va[0].double().numpy())
            p.append(torch.sigmoid(out.logits[0].double()).numpy())
        va, p = np.concatenate(va), np.concatenate(p)
        ends = np.array([(((n + 1) * 2 - 1) * 256 + 2048) / 22050 for n in range(va.shape[0])])
        for h, (means, p_means) in expected.items():
            keep = slice(None) if h is None else slice(0, max(1, int((ends <= h).sum())))
            means.append(va[keep].mean(axis=0))
            p_means.append(p[keep].mean(axis=0))
    targets = np.array(labels)
    for key, h in (("whole", None), ("first_5s", 5.0), ("first_10s", 10.0)):
        reference = va_metrics(targets, np.array(expected[h][0]), np.array(expected[h][1]))
        ours = report if key == "whole" else report[key]
        for dimension in ("valence", "arousal"):
            for metric, value in reference[dimension].items():
                assert ours[dimension][metric] == pytest.approx(value, abs=1e-5, nan_ok=True), (key, dimension, metric)
        assert ours["quadrant"] == reference["quadrant"]
    assert report["n_clips"] == 4 and report["valence"]["n"] == 4 and report["arousal"]["n"] == 3
    assert "by_source" not in report


def test_strict_json_has_no_nan() -> None:
    value = strict_json({"a": [1.0, math.nan, np.float64(math.inf)], "b": {"c": np.int64(3), "d": "x"}})
    assert value == {"a": [1.0, None, None], "b": {"c": 3, "d": "x"}}
    json.dumps(value, allow_nan=False)


def test_dataset_formats_are_recognised(tmp_path: Path) -> None:
    for kind, marker in [
        ("4q", "panda_dataset_taffc_metadata.csv"),
        ("memo2496", "deep/mel_spec.npy"),
        ("deam", "x/static_annotations_averaged_songs_1_2000.csv"),
        ("emomusic", "valence_cont_average.csv"),
        ("pmemo", "dynamic_annotations.csv"),
    ]:
        root = tmp_path / kind
        (root / marker).parent.mkdir(parents=True, exist_ok=True)
        (root / marker).touch()
        assert detect_dataset(root) == (kind, root)
    (tmp_path / "own" / "sub").mkdir(parents=True)
    (tmp_path / "own" / "sub" / "labels.csv").touch()
    assert detect_dataset(tmp_path / "own") == ("csv", tmp_path / "own" / "sub" / "labels.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no labelled dataset recognised"):
        detect_dataset(tmp_path / "empty")


def test_eval_command_on_a_folder_and_on_a_recipe(tiny_run_dir: Path) -> None:
    recipe = load_recipe("recipe.yaml")
    bundle = random_bundle("random.safetensors", seed=3, config=recipe.model)
    assert (
        main(
            ["eval", str(bundle), "--data", "labelled", "--json", "folder.json", "--device", "cpu", "--cache", "cache"]
        )
        == 0
    )
    text = Path("folder.json").read_text()
    assert "NaN" not in text
    report = json.loads(text)
    for dimension in ("valence", "arousal"):
        assert {"rmse", "r2", "pearson", "ccc", "accuracy", "f1"} <= set(report[dimension])
        assert {"valence", "arousal", "quadrant"} <= set(report["first_5s"]) and report[dimension]["n"] == 12
    clips = read_dataset("csv", "labelled/labels.csv")
    store = FeatureStore(clips, FeatureSpec(), "cache")
    store.prepare(range(len(clips)))
    from damer_core.bundle import load_bundle

    direct = strict_json(evaluate_clips(load_bundle(bundle, "cpu").model, clips, store.features))
    assert report["valence"] == direct["valence"] and report["quadrant"] == direct["quadrant"]

    assert main(["eval", str(bundle), "--data", "recipe.yaml", "--json", "recipe.json", "--device", "cpu"]) == 0
    on_recipe = json.loads(Path("recipe.json").read_text())
    assert on_recipe["n_clips"] == len(read_corpus(recipe).validation)

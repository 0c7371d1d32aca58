"""The training loop end to end on the tiny recipe: loss goes down, the bundle loads in the engine's path,
resuming equals not stopping, the schedule follows its formula, two gloo processes train."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
import yaml

from damer_core.atomic import new_file_mode
from damer_core.bundle import check_live_spec, load_bundle
from damer_core.config import to_mapping
from damer_core.errors import ConfigError
from damer_core.model import DamerModel
from train.data import StepBatches, crop_frames, input_stats, read_corpus
from train.evaluate import token_outputs
from train.loop import BUNDLE_NAME, CHECKPOINT_NAME, Trainer, learning_rate, train
from train.losses import supervised_loss
from train.recipe import OptimConfig, TrainRecipe, ValidationConfig, load_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")
BIN = Path(sys.executable).parent


def shorter(recipe: TrainRecipe, steps: int, every: int) -> TrainRecipe:
    """The recipe with ``steps`` steps, checkpoints and validation every ``every`` steps."""
    optim = dataclasses.replace(recipe.optim, steps=steps, warmup_steps=2)
    return dataclasses.replace(recipe, optim=optim, checkpoint_every=every, eval_every=every)


def fixed_batch_loss(model: DamerModel, recipe: TrainRecipe, batch: dict[str, torch.Tensor]) -> float:
    model.eval()
    with torch.no_grad():
        output = model(batch["mel"], batch["coch"])
        weight = batch["valid"].float() * batch["confidence"].unsqueeze(1)
        return float(supervised_loss(output, batch["target"], weight, recipe.losses)[0])


def test_tiny_run_lowers_the_loss_and_writes_a_bundle_the_engine_loads(tiny_run_dir: Path) -> None:
    recipe = load_recipe("recipe.yaml")
    result = train(recipe, "out", progress=False)
    assert result.steps == 24 and not result.stopped_early
    assert [entry["step"] for entry in result.history] == [8, 16, 24]

    # The same initial model the trainer built (seed, input statistics), scored on one fixed batch.
    corpus = read_corpus(recipe)
    corpus.store.prepare(range(len(corpus.clips)))
    torch.manual_seed(recipe.seed)
    initial = DamerModel(recipe.model, recipe.features)
    stats = input_stats(corpus.store, corpus.training_indices(), 0, recipe.seed)
    initial.set_input_stats(*stats["mel"], *stats["cochleagram"])
    length = crop_frames(recipe.features, recipe.optim.crop_seconds, recipe.model.frames_per_token)
    batch = StepBatches(corpus, 123, 1, 8, 0, length, recipe.model.frames_per_token)[0]["labelled"]
    bundle = load_bundle(result.bundle, device="cpu")
    before, after = fixed_batch_loss(initial, recipe, batch), fixed_batch_loss(bundle.model, recipe, batch)
    assert after < 0.7 * before, (before, after)

    # The exported weights are the best validation step's, and the card says where they came from.
    best = safetensors.torch.load_file("out/best.safetensors")
    for name, tensor in bundle.model.state_dict().items():
        assert torch.equal(tensor, best[name]), name
    card = bundle.card
    assert card["metrics"]["step"] == result.best_step
    assert card["metrics"]["validation"]["valence"]["n"] == len(corpus.validation)
    rows = {row["name"]: row for row in card["data"]}
    assert rows["tones"]["train_clips"] + rows["tones"]["validation_clips"] == 12
    assert rows["tones"]["validation_clips"] == len(corpus.validation) > 0
    assert rows["hum"] == rows["hum"] | {"role": "unlabelled", "train_clips": 2, "validation_clips": 0}
    assert math.isclose(
        rows["hum"]["train_hours"], 2 * corpus.store.n_frames[-1] / recipe.features.frame_rate / 3600, rel_tol=1e-3
    )
    assert card["modules"] == {
        "views": ["mel", "cochleagram"],
        "dsaf": True,
        "fusion": "dsaf",
        "pcl": True,
        "saml": True,
        "musicnn_distillation": False,
    }
    assert card["training"]["steps"] == 24 and card["training"]["processes"] == 1
    assert card["recipe"] == to_mapping(recipe) and "code_version" in card and "created" in card
    assert json.loads(Path("out/metrics.json").read_text()) == card["metrics"]["validation"]
    check_live_spec(bundle.spec)
    # Every result is readable like any file the user writes (the umask decides, not the temporary files).
    assert {path.name: path.stat().st_mode & 0o777 for path in Path("out").iterdir()} == {
        path.name: new_file_mode() for path in Path("out").iterdir()
    }

    # Streaming the clip's features through the loaded model gives the evaluation's per-token outputs.
    features = corpus.store.features(int(corpus.validation[0]))
    va, _ = token_outputs(bundle.model, features)
    streamed = bundle.model.streaming().push(features.mel, features.coch).va[0].double().numpy()
    np.testing.assert_allclose(streamed, va, atol=1e-5)

    analyzed = subprocess.run(
        [
            str(BIN / "damer"),
            "analyze",
            "labelled/clip03.wav",
            "--out",
            "analysis",
            "--model",
            str(result.bundle),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert analyzed.returncode == 0, analyzed.stderr
    lines = Path("analysis/clip03.csv").read_text().splitlines()
    assert lines[0].startswith("time,valence,arousal") and len(lines) > 20


def test_resuming_from_a_checkpoint_equals_an_uninterrupted_run(tiny_run_dir: Path) -> None:
    recipe = shorter(load_recipe("recipe.yaml"), steps=10, every=4)
    whole = train(recipe, "whole", progress=False)
    # Killed after step 7: the checkpoint on disk is step 4's; the next run resumes from it.
    interrupted = Trainer(recipe, "resumed", progress=False).run(stop_at=7)
    assert interrupted.steps == 7
    saved = torch.load(Path("resumed") / CHECKPOINT_NAME, weights_only=True)
    assert json.loads(saved["state"])["step"] == 4
    resumed = train(recipe, "resumed", progress=False)
    a, b = (safetensors.torch.load_file(str(r.bundle)) for r in (whole, resumed))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert resumed.history == whole.history
    final = (torch.load(Path(d) / CHECKPOINT_NAME, weights_only=True) for d in ("whole", "resumed"))
    ckpt_a, ckpt_b = final
    for part in ("pcl", "saml"):
        for name, tensor in ckpt_a["learner"][part].items():
            assert torch.equal(tensor, ckpt_b["learner"][part][name]), (part, name)

    moved = dataclasses.replace(recipe, workers=1, threads=2)  # runtime settings may change between sessions
    assert train(moved, "resumed", progress=False).steps == 10
    changed = dataclasses.replace(recipe, seed=recipe.seed + 1)
    with pytest.raises(ConfigError, match="different recipe"):
        train(changed, "resumed", progress=False)


def test_learning_rate_warms_up_then_follows_the_cosine() -> None:
    optim = OptimConfig(lr=1e-3, steps=102, warmup_steps=2, min_lr_ratio=0.1)
    assert learning_rate(0, 102, optim) == pytest.approx(0.5e-3)
    assert learning_rate(1, 102, optim) == pytest.approx(1e-3)
    assert learning_rate(2, 102, optim) == pytest.approx(1e-3)  # t = 0
    assert learning_rate(52, 102, optim) == pytest.approx(1e-4 + 0.9e-3 * 0.5 * (1 + math.cos(math.pi * 50 / 99)))
    assert learning_rate(101, 102, optim) == pytest.approx(1e-4)  # t = 1 at the last step
    constant = dataclasses.replace(optim, schedule="constant")
    assert learning_rate(80, 102, constant) == 1e-3


@pytest.mark.skipif(shutil.which("torchrun", path=str(BIN)) is None, reason="torchrun not installed")
def test_torchrun_two_gloo_processes_train_and_export_the_same_bundle_format(tiny_run_dir: Path) -> None:
    data = yaml.safe_load(Path("recipe.yaml").read_text())
    data["optim"].update(steps=4, warmup_steps=1)
    data.update(eval_every=4, checkpoint_every=4)
    Path("ddp.yaml").write_text(yaml.safe_dump(data))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        str(BIN / "torchrun"),
        "--standalone",
        "--nproc_per_node",
        "2",
        "--no-python",
        str(BIN / "damer"),
        "train",
        "ddp.yaml",
    ]
    finished = subprocess.run(
        [*command, "--out", "ddp", "--no-progress"], capture_output=True, text=True, timeout=300, env=env
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert finished.stdout.count("finished after 4/4 steps") == 1  # printed by the first process only
    bundle = load_bundle("ddp/model.safetensors", device="cpu")
    assert bundle.card["training"]["processes"] == 2
    assert bundle.card["training"]["steps"] == 4
    checkpoint = torch.load("ddp/checkpoint.pt", weights_only=True)
    assert set(checkpoint["learner"]["model"]) == set(bundle.model.state_dict())
    saml_queue = checkpoint["learner"]["saml"]["queue.classes"]
    assert int((saml_queue >= 0).sum()) == 16  # 4 steps x 4 crops from both processes (gathered), queue of 16


def test_without_validation_the_teacher_is_exported_when_asked(tiny_run_dir: Path) -> None:
    """``pcl.export_teacher``: the bundle holds the moving average of the weights, not the last step's."""
    recipe = shorter(load_recipe("recipe.yaml"), steps=6, every=6)
    no_validation = dataclasses.replace(recipe.data, validation=ValidationConfig())
    last = dataclasses.replace(recipe, data=no_validation)
    averaged = dataclasses.replace(last, pcl=dataclasses.replace(last.pcl, export_teacher=True))
    exported = {}
    for name, run in (("last", last), ("averaged", averaged)):
        train(run, name, progress=False)
        exported[name] = safetensors.torch.load_file(f"{name}/{BUNDLE_NAME}")
    checkpoint = torch.load(Path("averaged") / CHECKPOINT_NAME, weights_only=True)
    teacher = {
        k.removeprefix("teacher."): v for k, v in checkpoint["learner"]["pcl"].items() if k.startswith("teacher.")
    }
    student = checkpoint["learner"]["model"]
    assert teacher and any(not torch.equal(teacher[k], student[k]) for k in student)
    for name, tensor in exported["averaged"].items():
        assert torch.equal(tensor, teacher[name]), name
    for name, tensor in exported["last"].items():
        assert torch.equal(tensor, student[name]), name  # the same run without the switch: the last weights

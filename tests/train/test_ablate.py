"""Ablations: each variant changes exactly one thing; the study tabulates the variants' validation metrics."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from damer_core.cli import main
from damer_core.config import from_mapping, to_mapping
from damer_core.errors import ConfigError
from train.ablate import VARIANTS, applicable_variants, run_ablation, shortened, variant_recipe
from train.loop import TrainResult
from train.recipe import TrainRecipe, load_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = Path(__file__).resolve().parent / "tiny.yaml"


def differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = []
    for key in a:
        if isinstance(a[key], dict):
            keys += differences(a[key], b[key], f"{prefix}{key}.")
        elif a[key] != b[key]:
            keys.append(f"{prefix}{key}")
    return keys


def test_each_variant_changes_one_setting() -> None:
    recipe = load_recipe(TINY)
    base = to_mapping(recipe)
    changed = {
        name: differences(base, to_mapping(variant_recipe(recipe, name))) for name in applicable_variants(recipe)
    }
    assert changed == {
        "full": [],
        "no_dsaf": ["model.fusion"],
        "no_pcl": ["pcl.enabled"],
        "no_saml": ["saml.enabled"],
        "mel_only": ["model.views"],
        "cochleagram_only": ["model.views"],
    }
    assert variant_recipe(recipe, "cochleagram_only").model.views == ("cochleagram",)


def test_musicnn_variants_apply_to_a_recipe_with_the_musicnn_view_and_distillation() -> None:
    mapping = to_mapping(load_recipe(TINY))
    mapping["features"]["musicnn"] = {"variant": "aligned"}
    mapping["model"]["views"] = ["mel", "cochleagram", "musicnn"]
    mapping["distill"]["enabled"] = True
    recipe = from_mapping(TrainRecipe, mapping)
    assert applicable_variants(recipe)[-3:] == ("no_distill", "no_musicnn_view", "musicnn_only")
    base = to_mapping(recipe)
    changed = {name: differences(base, to_mapping(variant_recipe(recipe, name))) for name in VARIANTS}
    assert changed["no_distill"] == ["distill.enabled"]
    assert changed["no_musicnn_view"] == changed["musicnn_only"] == ["model.views"]
    assert variant_recipe(recipe, "musicnn_only").model.views == ("musicnn",)


def test_study_tabulates_each_variant(tmp_path: Path) -> None:
    recipe = load_recipe(TINY)
    runs = []

    def fake_train(variant, out, progress):
        runs.append((variant, Path(out).name))
        accuracy = 0.5 + 0.1 * len(runs)
        report = {
            "valence": {"accuracy": accuracy, "f1": 0.4, "ccc": 0.2},
            "arousal": {"accuracy": 0.9, "f1": None, "ccc": 0.3},
            "quadrant": {"accuracy": 0.45},
            "first_5s": {"quadrant": {"accuracy": 0.3}},
        }
        return TrainResult(Path(out) / "model.safetensors", 24, 24, 16, accuracy, report, False, 12.0)

    rows = run_ablation(recipe, tmp_path, ["full", "no_pcl"], progress=False, trainer=fake_train)
    assert [name for _, name in runs] == ["full", "no_pcl"] and [variant.pcl.enabled for variant, _ in runs] == [
        True,
        False,
    ]
    assert {row["split"] for row in rows} == {"validation"}
    assert [(row["variant"], row["V acc"], row["A f1"], row["Q acc 5s"], row["Q acc 10s"]) for row in rows] == [
        ("full", pytest.approx(0.6), None, 0.3, None),
        ("no_pcl", pytest.approx(0.7), None, 0.3, None),
    ]
    table = (tmp_path / "ablation.md").read_text().splitlines()
    assert table[0].startswith("| variant | split | V acc | A acc | Q acc |") and table[2].startswith(
        "| full | validation | 0.600 | 0.900 | 0.450 |"
    )
    assert "n/a" in table[2]
    assert json.loads((tmp_path / "ablation.json").read_text())[1]["variant"] == "no_pcl"
    with pytest.raises(ConfigError, match="unknown variant 'no_attention'"):
        run_ablation(recipe, tmp_path, ["no_attention"], trainer=fake_train)


def test_ablate_command_trains_the_variants(tiny_run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    data = yaml.safe_load(Path("recipe.yaml").read_text())
    data["optim"].update(steps=3, warmup_steps=1)
    data.update(eval_every=3, checkpoint_every=3)
    Path("short.yaml").write_text(yaml.safe_dump(data))
    argv = ["ablate", "short.yaml", "--out", "study", "--only", "no_dsaf", "mel_only", "--steps", "2", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| no_dsaf |" in printed and "| mel_only |" in printed
    assert load_recipe("study/mel_only/recipe.yaml").model.views == ("mel",)
    assert load_recipe("study/no_dsaf/recipe.yaml").optim.steps == 2
    assert Path("study/no_dsaf/model.safetensors").is_file() and Path("study/ablation.md").is_file()


def test_a_shortened_recipe_scales_every_schedule_alike() -> None:
    recipe = load_recipe(Path(__file__).parents[2] / "configs/train/default.yaml")
    short = shortened(recipe, recipe.optim.steps // 5)
    assert short.optim.steps == recipe.optim.steps // 5
    assert short.optim.warmup_steps == round(recipe.optim.warmup_steps / 5)
    assert (short.pcl.start_step, short.pcl.ramp_steps) == (
        round(recipe.pcl.start_step / 5),
        round(recipe.pcl.ramp_steps / 5),
    )
    assert short.saml.start_step == round(recipe.saml.start_step / 5)
    assert short.distill.probe_start_step == round(recipe.distill.probe_start_step / 5)
    assert short.eval_every == round(recipe.eval_every / 5) and short.checkpoint_every == round(
        recipe.checkpoint_every / 5
    )
    assert shortened(recipe, 1).eval_every == 1 and shortened(recipe, 1).pcl.ramp_steps == 1
    assert (
        dataclasses.replace(
            short,
            optim=recipe.optim,
            pcl=recipe.pcl,
            saml=recipe.saml,
            distill=recipe.distill,
            eval_every=recipe.eval_every,
            checkpoint_every=recipe.checkpoint_every,
        )
        == recipe
    )
    with pytest.raises(ConfigError, match="--steps must be >= 1"):
        shortened(recipe, 0)

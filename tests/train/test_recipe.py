"""Training recipes: the shipped ones load, mistakes name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from damer_core.errors import ConfigError
from train.recipe import TrainRecipe, load_recipe
from train.student import load_student_recipe

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"
STUDENT_RECIPE = CONFIGS / "student.yaml"
RECIPES = sorted(path for path in CONFIGS.glob("*.yaml") if path != STUDENT_RECIPE)
SHIPPED_BUNDLE_RECIPES = ("default", "light")
MINIMAL = "data:\n  sources:\n    - {kind: 4q, path: q}\n"


def test_every_shipped_recipe_loads() -> None:
    names = {path.stem for path in RECIPES}
    assert {"memo2496", "deam", "pmemo", "emomusic", "4q", "synth", "default", "light"} <= names
    for path in RECIPES:
        recipe = load_recipe(path)
        assert isinstance(recipe, TrainRecipe)
        if path.stem in SHIPPED_BUNDLE_RECIPES:
            # trained on every labelled clip for a fixed number of steps; scored by `damer cv` instead
            assert recipe.data.test.source is None and recipe.data.validation.source is None, path
            assert recipe.optim.steps is not None and recipe.early_stopping.patience == 0, path
        else:
            assert recipe.data.validation.source is not None, path
    memo = load_recipe(RECIPES[[p.stem for p in RECIPES].index("memo2496")])
    assert memo.features.source == "memo2496"


def test_the_student_recipe_loads_with_its_paths_under_the_data_root(tmp_path: Path) -> None:
    recipe = load_student_recipe(STUDENT_RECIPE, tmp_path)
    assert [Path(s.path).parent for s in recipe.sources] == [tmp_path, tmp_path]
    assert recipe.teacher.musicnn is not None and recipe.teacher.musicnn.variant == "aligned"
    assert recipe.student.reach * recipe.teacher.hop / recipe.teacher.sample_rate == pytest.approx(2.96, abs=0.01)


def test_defaults_fill_everything_but_the_sources(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL)
    recipe = load_recipe(path)
    assert recipe.data.sources[0].name == "4q" and recipe.data.sources[0].role == "labelled"
    assert recipe.optim.steps == 20000 and recipe.pcl.enabled and recipe.saml.enabled


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "data:\n  sources:\n    - {kind: 4q, path: q, options: {dynamic: true}}\n",
            r"data\.sources\[0\]\.options: not accepted by the '4q' reader",
        ),
        ("data:\n  sources:\n    - {kind: mp3, path: q}\n", r"data\.sources\[0\]\.kind: must be one of"),
        (
            "data:\n  sources:\n    - {kind: folder, path: q, role: unlabelled}\n",
            r"data\.sources: must be at least one labelled source",
        ),
        (
            MINIMAL + "  validation: {source: deam}\n",
            r"data\.validation\.source: must be the name of a labelled source \(4q\)",
        ),
        (MINIMAL + "  validation: {source: 4q, fraction: 0}\n", r"data\.validation\.fraction: must be in \(0, 1\]"),
        (MINIMAL + "optim: {epochs: 3}\n", r"optim\.steps: must be set unless epochs is set"),
        (MINIMAL + "optim: {amp: fp8}\n", r"optim\.amp: must be one of"),
        (MINIMAL + "pcl: {threshold_end: 1.5}\n", r"pcl\.threshold_end: must be in \[0, 1\]"),
        (MINIMAL + "saml: {anchor_by: album}\n", r"saml\.anchor_by: must be one of"),
        (MINIMAL + "early_stopping: {metric: valence.macro_f1}\n", r"early_stopping\.metric: must be"),
        (MINIMAL + "model: {fusion: sum}\n", r"model\.fusion: must be one of"),
        (MINIMAL + "lr: 0.1\n", r"unknown key 'lr'"),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_recipe(path)
    assert str(caught.value).startswith(str(path))


def test_epochs_instead_of_steps(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL + "optim: {steps: null, epochs: 2.5}\n")
    recipe = load_recipe(path)
    assert recipe.optim.steps is None and recipe.optim.epochs == 2.5
    assert load_recipe(path).early_stopping.higher_is_better

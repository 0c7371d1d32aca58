"""Training on Memo2496's released arrays: features come from the reader, the bundle records the dataset's
feature spec, and the live engine refuses it with a message that says why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from damer_core.bundle import check_live_spec, load_bundle
from damer_core.cli import main
from damer_core.errors import BundleError
from train.loop import train
from train.recipe import load_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_memo2496(root: Path, n_clips: int = 16) -> None:
    """Arrays in the released layout: (clip, band, frame) features, one label per clip in [-1, 1]."""
    rng = np.random.default_rng(0)
    valence, arousal = rng.uniform(-0.9, 0.9, n_clips), rng.uniform(-0.9, 0.9, n_clips)
    mel = rng.normal(0, 1, (n_clips, 128, 87)) + 2 * valence[:, None, None] * np.linspace(-1, 1, 128)[None, :, None]
    coch = rng.normal(0, 1, (n_clips, 84, 87)) + 2 * arousal[:, None, None]
    (root / "labels").mkdir(parents=True)
    np.save(root / "mel_spec.npy", mel.astype(np.float32))
    np.save(root / "cochlegram.npy", coch.astype(np.float32))
    np.save(root / "labels" / "label_v.npy", valence)
    np.save(root / "labels" / "label_a.npy", arousal)


def test_memo2496_model_trains_on_reader_features_and_is_refused_live(
    tiny_run_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    write_memo2496(tiny_run_dir / "memo")
    data = yaml.safe_load(Path("recipe.yaml").read_text())
    data["features"] = {"source": "memo2496"}
    data["data"] = {
        "sources": [{"kind": "memo2496", "path": "memo"}],
        "validation": {"source": "memo2496", "fraction": 0.25},
    }
    data["optim"].update(steps=4, warmup_steps=1)
    data.update(eval_every=4, checkpoint_every=4, cache_dir="no-cache-needed")
    Path("memo.yaml").write_text(yaml.safe_dump(data))
    result = train(load_recipe("memo.yaml"), "memo-run", progress=False)
    assert not Path("no-cache-needed").exists()  # features came from the arrays, not the audio cache
    bundle = load_bundle(result.bundle, device="cpu")
    assert bundle.spec.source == "memo2496"
    assert bundle.card["data"][0]["train_clips"] + bundle.card["data"][0]["validation_clips"] == 16
    assert any("live engine cannot feed this model" in notice for notice in bundle.card["notices"])
    with pytest.raises(BundleError) as refused:
        check_live_spec(bundle.spec)
    assert str(refused.value) == (
        "model was trained on precomputed 'memo2496' features (feature spec source='memo2496'); the live "
        "front-end computes features from audio (source='audio'), so it cannot feed this model"
    )
    capsys.readouterr()
    status = main(
        ["analyze", "labelled/clip00.wav", "--out", "analysis", "--model", str(result.bundle), "--device", "cpu"]
    )
    assert status == 2
    error = capsys.readouterr().err.strip()
    assert (
        error.startswith("damer analyze: error: ") and "precomputed 'memo2496' features" in error and "\n" not in error
    )
    # Offline evaluation on the arrays works; on audio it is refused with a one-line reason.
    assert main(["eval", str(result.bundle), "--data", "memo", "--json", "memo.json", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["eval", str(result.bundle), "--data", "labelled", "--device", "cpu"]) == 2
    assert "describes precomputed features, but source 'csv' is audio" in capsys.readouterr().err

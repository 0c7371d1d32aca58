"""The bundles shipped in the package: they load, the live front-end serves their spec (the pretrained view's
weights included), their cards hold the cross-validation and the data, and they hear a calm and an agitated
section apart."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from damer_core.bundle import Bundle, check_live_spec, default_bundle_path, load_bundle
from damer_core.features.frontend import FrontEnd
from damer_core.musicnn import default_weights_path
from damer_core.shipped import shipped_model_names, shipped_model_path
from damer_core.student.weights import shipped_student_path

DEMO = Path(__file__).resolve().parents[2] / "streamer" / "data" / "demo.ogg"
CALM_S, AGITATED_S = (6.0, 12.0), (18.0, 24.0)  # the demo's first two sections, after 6 s of each
SHIPPED = {"default": "musicnn", "light": "student"}
"""The shipped bundles and what computes their pretrained view."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module", params=sorted(SHIPPED))
def shipped(request) -> tuple[str, Bundle]:
    return request.param, load_bundle(shipped_model_path(request.param), device="cpu")


def test_the_shipped_bundles_are_the_default_and_light() -> None:
    assert shipped_model_names() == ["default", "light"]
    assert shipped_model_path("default") == default_bundle_path()


def test_bundle_loads_and_its_spec_is_the_live_front_ends(shipped) -> None:
    name, bundle = shipped
    check_live_spec(bundle.spec)
    view = bundle.spec.musicnn
    assert view is not None and "musicnn" in bundle.model.views and view.encoder == SHIPPED[name]
    if view.encoder == "student":
        assert view.student_sha256 == sha256(shipped_student_path())
    assert view.weights_sha256 == sha256(default_weights_path())
    views = FrontEnd(bundle.spec).push(np.zeros(bundle.spec.win_length + 3 * bundle.spec.hop, dtype=np.float32))
    assert [v.shape for v in views] == [(4, 128), (4, 84), (4, view.size)]
    assert shipped_model_path(name).stat().st_size < 8 * 2**20


def test_card_reports_the_cross_validation_and_the_data(shipped) -> None:
    card = shipped[1].card
    cv = card["cross_validation"]
    assert (cv["source"], cv["folds"], cv["repeats"], cv["n_clips"]) == ("4q", 5, 1, 676)
    assert cv["steps"] == card["training"]["steps"]
    for measure in ("valence", "arousal", "quadrant"):
        assert 0.5 < cv["summary"][f"{measure}.accuracy"]["mean"] <= 1.0
    assert set(cv["paired"]) == {"penultimate", "pools", "handcrafted", "centroid"}
    assert "test" not in card["metrics"], "the shipped bundles hold nothing out: their accuracy is the CV's"
    assert {row["name"]: row["train_clips"] for row in card["data"]}["4q"] == 676
    assert {row["name"] for row in card["data"]} == {"4q", "music"}
    assert any("research use only" in notice for notice in card["notices"])
    assert any("MSD_musicnn" in notice for notice in card["notices"])


def test_agitated_section_of_the_demo_has_higher_arousal_than_the_calm_one(shipped) -> None:
    bundle = shipped[1]
    audio, rate = soundfile.read(DEMO, dtype="float32")
    assert rate == bundle.spec.sample_rate
    audio = audio[: int(AGITATED_S[1] * rate)]
    torch.set_num_threads(1)
    front_end, arousal = FrontEnd(bundle.spec), []
    with torch.inference_mode(), bundle.model.streaming() as stream:
        for start in range(0, audio.size, 4096):
            arousal.append(stream.push(*front_end.push(audio[start : start + 4096])).va[0, :, 1].numpy())
        times = np.array([bundle.model.token_end_seconds(n) for n in range(stream.tokens)])
    arousal = np.concatenate(arousal)

    def mean_between(span: tuple[float, float]) -> float:
        return float(arousal[(times >= span[0]) & (times < span[1])].mean())

    assert np.isfinite(arousal).all()
    assert mean_between(AGITATED_S) > mean_between(CALM_S) + 0.2

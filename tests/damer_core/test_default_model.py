"""The default model shipped in the package: it loads, the live front-end serves its spec (musicnn weights
included), its card holds the held-out results, and it hears a calm and an agitated section apart."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from damer_core.bundle import check_live_spec, default_bundle_path, load_bundle
from damer_core.features.frontend import FrontEnd
from damer_core.musicnn import default_weights_path

DEMO = Path(__file__).resolve().parents[2] / "streamer" / "data" / "demo.ogg"
CALM_S, AGITATED_S = (6.0, 12.0), (18.0, 24.0)  # the demo's first two sections, after 6 s of each


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(default_bundle_path(), device="cpu")


def test_default_bundle_loads_and_its_spec_is_the_live_front_ends(bundle):
    check_live_spec(bundle.spec)
    assert bundle.spec.musicnn is not None and "musicnn" in bundle.model.views
    assert bundle.spec.musicnn.weights_sha256 == hashlib.sha256(default_weights_path().read_bytes()).hexdigest()
    views = FrontEnd(bundle.spec).push(np.zeros(bundle.spec.win_length + 3 * bundle.spec.hop, dtype=np.float32))
    assert [view.shape for view in views] == [(4, 128), (4, 84), (4, bundle.spec.musicnn.size)]
    assert default_bundle_path().stat().st_size < 8 * 2**20


def test_card_reports_the_held_out_artists_and_the_data(bundle):
    card = bundle.card
    test = card["metrics"]["test"]
    assert test["n_clips"] == 170
    for dimension in ("valence", "arousal"):
        assert 0.5 < test[dimension]["accuracy"] <= 1.0
    names = {row["name"] for row in card["data"]}
    assert {"4q", "synth", "music"} <= names
    assert any("research use only" in notice for notice in card["notices"])
    assert any("MSD_musicnn" in notice for notice in card["notices"])


def test_agitated_section_of_the_demo_has_higher_arousal_than_the_calm_one(bundle):
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

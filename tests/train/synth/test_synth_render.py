"""Rendered audio has the intended loudness and tempo, the exact length, and is reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from damer_core.errors import ConfigError
from train.synth.compose import compose
from train.synth.plan import Boundary, ClipPlan
from train.synth.render import check_soundfont, render

SAMPLE_RATE = 22050


def rms_db(audio: np.ndarray) -> float:
    return float(20.0 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))))


def render_plan(plan: ClipPlan, soundfont: Path) -> np.ndarray:
    return render(compose(plan), soundfont, plan.duration_s, SAMPLE_RATE).audio


def single(section, duration_s: float = 8.0) -> ClipPlan:
    return ClipPlan(seed=11, duration_s=duration_s, tonic=0, progression=0, sections=(section,))


def test_rendering_is_mono_of_exact_length_finite_and_reproducible(make_section, soundfont):
    plan = single(make_section(percussion=True), duration_s=5.3)
    first, second = render_plan(plan, soundfont), render_plan(plan, soundfont)
    assert first.dtype == np.float32 and first.shape == (round(5.3 * SAMPLE_RATE),)
    assert np.all(np.isfinite(first)) and np.max(np.abs(first)) <= 1.0
    assert rms_db(first) > -50.0
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("ensemble", ["piano", "strings", "rock"])
def test_loudness_rises_with_velocity(make_section, soundfont, ensemble):
    levels = [
        rms_db(render_plan(single(make_section(velocity=v, ensemble=ensemble), 5.0), soundfont))
        for v in (30.0, 60.0, 90.0, 120.0)
    ]
    assert np.all(np.diff(levels) > 2.0), levels


@pytest.mark.parametrize("bpm", [72.0, 100.0, 144.0])
def test_rendered_tempo_matches_the_plan(make_section, soundfont, estimate_tempo, bpm):
    audio = render_plan(single(make_section(tempo_bpm=bpm, density=2.0, ensemble="mallets"), 10.0), soundfont)
    assert estimate_tempo(audio) == pytest.approx(bpm, rel=0.03)


def test_tempo_and_loudness_change_at_the_change_point(make_section, soundfont, estimate_tempo):
    calm = make_section(tempo_bpm=75.0, velocity=45.0, density=2.0)
    lively = make_section(tempo_bpm=135.0, velocity=110.0, density=2.0)
    plan = ClipPlan(
        seed=2, duration_s=16.0, tonic=0, progression=0, sections=(calm, lively), boundaries=(Boundary(8.0, 0.0),)
    )
    audio = render_plan(plan, soundfont)
    half = 8 * SAMPLE_RATE
    before, after = audio[:half], audio[half + SAMPLE_RATE // 2 :]
    assert estimate_tempo(before) == pytest.approx(75.0, rel=0.03)
    assert estimate_tempo(after) == pytest.approx(135.0, rel=0.03)
    assert rms_db(after) > rms_db(before) + 8.0


def test_missing_or_invalid_soundfont_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        check_soundfont(tmp_path / "none.sf2")
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"not a soundfont at all")
    with pytest.raises(ConfigError, match="not a SoundFont"):
        check_soundfont(fake)

"""The cue -> valence/arousal mapping follows the directions reported in the music-psychology literature."""

from __future__ import annotations

import numpy as np
import pytest

from train.synth.labels import clip_labels, label_times, valence_arousal
from train.synth.plan import ClipPlan

# (cue, values in increasing order, expected sign of d valence, expected sign of d arousal)
DIRECTIONS = [
    ("tempo_bpm", [50.0, 70.0, 100.0, 140.0, 190.0], +1, +1),
    ("major", [False, True], +1, 0),
    ("dissonance", [0.0, 0.3, 0.6, 1.0], -1, +1),
    ("velocity", [30.0, 60.0, 90.0, 120.0], 0, +1),
    ("register", [46.0, 60.0, 72.0, 84.0], +1, +1),
    ("staccato", [0.0, 0.5, 1.0], +1, +1),
    ("density", [0.5, 1.0, 2.0, 3.0, 4.0], 0, +1),
    ("percussion", [False, True], 0, +1),
]


@pytest.mark.parametrize(("cue", "values", "valence_sign", "arousal_sign"), DIRECTIONS)
def test_each_cue_moves_labels_in_the_documented_direction(make_section, cue, values, valence_sign, arousal_sign):
    labels = np.array([valence_arousal(make_section(**{cue: v}).cues(0.5)) for v in values])
    for column, sign in ((0, valence_sign), (1, arousal_sign)):
        steps = np.diff(labels[:, column])
        if sign == 0:
            np.testing.assert_allclose(steps, 0.0, atol=1e-12)
        else:
            assert np.all(sign * steps > 0.01), (cue, column, labels[:, column])


def test_timbre_brightness_raises_arousal_and_roughness_lowers_valence(make_section):
    dull, bright = (
        valence_arousal(make_section(ensemble="horns").cues(0.5)),
        valence_arousal(make_section(ensemble="brass").cues(0.5)),
    )
    assert bright[1] > dull[1] + 0.05
    assert bright[0] < dull[0] - 0.02
    smooth, rough = (
        valence_arousal(make_section(ensemble="synth").cues(0.5)),
        valence_arousal(make_section(ensemble="rock").cues(0.5)),
    )
    assert rough[0] < smooth[0] - 0.02


def test_textbook_emotions_land_in_their_quadrants(make_section):
    happy = make_section(
        tempo_bpm=160.0,
        major=True,
        velocity=100.0,
        register=78.0,
        staccato=0.8,
        density=3.0,
        ensemble="mallets",
        percussion=True,
    )
    angry = make_section(
        tempo_bpm=170.0,
        major=False,
        dissonance=1.0,
        velocity=118.0,
        register=60.0,
        staccato=0.7,
        density=4.0,
        ensemble="rock",
        percussion=True,
    )
    sad = make_section(
        tempo_bpm=55.0,
        major=False,
        dissonance=0.3,
        velocity=40.0,
        register=50.0,
        staccato=0.0,
        density=0.5,
        ensemble="strings",
    )
    tender = make_section(
        tempo_bpm=70.0, major=True, velocity=45.0, register=70.0, staccato=0.1, density=1.0, ensemble="harp"
    )
    quadrants = {"happy": (1, 1), "angry": (-1, 1), "sad": (-1, -1), "tender": (1, -1)}
    for name, s in (("happy", happy), ("angry", angry), ("sad", sad), ("tender", tender)):
        v, a = valence_arousal(s.cues(0.5))
        assert (np.sign(v), np.sign(a)) == quadrants[name], (name, v, a)
        assert min(abs(v), abs(a)) > 0.3, (name, v, a)


def test_labels_stay_inside_the_unit_square_at_the_extremes(make_section):
    extremes = [
        make_section(
            tempo_bpm=t, major=m, dissonance=d, velocity=v, register=r, staccato=s, density=n, ensemble=e, percussion=p
        )
        for t, m, d, v, r, s, n, e, p in [
            (200.0, True, 0.0, 127.0, 88.0, 1.0, 4.0, "brass", True),
            (40.0, False, 1.0, 1.0, 40.0, 0.0, 0.5, "rock", False),
        ]
    ]
    for s in extremes:
        v, a = valence_arousal(s.cues(0.5))
        assert -1.0 < v < 1.0 and -1.0 < a < 1.0
        assert max(abs(v), abs(a)) > 0.9


def test_label_times_are_2_hz_from_zero_and_inside_the_clip(make_section):
    np.testing.assert_allclose(label_times(10.0), np.arange(20) * 0.5)
    np.testing.assert_allclose(label_times(10.2), np.arange(21) * 0.5)
    np.testing.assert_allclose(label_times(3.0, rate_hz=4.0), np.arange(12) * 0.25)
    plan = ClipPlan(seed=0, duration_s=7.3, tonic=0, progression=0, sections=(make_section(),))
    times, labels = clip_labels(plan)
    assert times.shape == (15,) and labels.shape == (15, 2)
    np.testing.assert_allclose(labels, np.tile(valence_arousal(make_section().cues(0.5)), (15, 1)))

"""Clip plans: cues over time through steps, ramps and dynamics, labels that change at the change point,
validation and serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from damer_core.errors import ConfigError
from train.synth.labels import clip_labels, valence_arousal
from train.synth.plan import Boundary, ClipPlan, Section


def two_sections(first: Section, second: Section, start_s: float, ramp_s: float, duration_s: float = 20.0) -> ClipPlan:
    return ClipPlan(
        seed=3,
        duration_s=duration_s,
        tonic=7,
        progression=1,
        sections=(first, second),
        boundaries=(Boundary(start_s=start_s, ramp_s=ramp_s),),
    )


def test_step_change_switches_labels_exactly_at_the_change_point(make_section):
    sad = make_section(tempo_bpm=60.0, major=False, velocity=45.0, staccato=0.0, density=1.0)
    happy = make_section(tempo_bpm=150.0, major=True, velocity=105.0, staccato=0.9, density=4.0, percussion=True)
    plan = two_sections(sad, happy, start_s=8.0, ramp_s=0.0)
    times, labels = clip_labels(plan)
    before, after = labels[times < 8.0], labels[times >= 8.0]
    np.testing.assert_allclose(before, np.tile(valence_arousal(sad.cues(0.5)), (len(before), 1)))
    np.testing.assert_allclose(after, np.tile(valence_arousal(happy.cues(0.5)), (len(after), 1)))
    assert times[len(before)] == 8.0
    assert np.all(after[0] - before[-1] > 0.5)


def test_ramp_moves_continuous_cues_linearly_and_switches_discrete_cues_at_midpoint(make_section):
    slow = make_section(tempo_bpm=60.0, major=False, velocity=40.0, register=50.0, ensemble="strings")
    fast = make_section(
        tempo_bpm=180.0, major=True, velocity=120.0, register=80.0, ensemble="brass", percussion=True, density=4.0
    )
    plan = two_sections(slow, fast, start_s=6.0, ramp_s=4.0)
    assert plan.cues_at(5.99).tempo_bpm == pytest.approx(60.0)
    quarter = plan.cues_at(7.0)
    assert quarter.tempo_bpm == pytest.approx(90.0)
    assert quarter.velocity == pytest.approx(60.0)
    assert quarter.register == pytest.approx(57.5)
    assert (quarter.major, quarter.ensemble, quarter.percussion, quarter.density) == (False, "strings", False, 2.0)
    three_quarters = plan.cues_at(9.0)
    assert three_quarters.tempo_bpm == pytest.approx(150.0)
    assert (three_quarters.major, three_quarters.ensemble, three_quarters.percussion) == (True, "brass", True)
    assert plan.cues_at(10.0) == fast.cues(0.0)

    times, labels = clip_labels(plan)
    ramp = (times >= 6.0) & (times <= 10.0)
    assert np.all(np.diff(labels[ramp], axis=0) > 0)
    assert np.all(labels[times < 6.0] == labels[0])
    assert np.all(labels[times >= 10.0] == labels[-1])


def test_dynamics_move_velocity_across_the_section_and_arousal_with_it(make_section):
    crescendo = make_section(velocity=70.0, dynamics=40.0)
    plan = ClipPlan(seed=0, duration_s=10.0, tonic=0, progression=0, sections=(crescendo,))
    assert plan.cues_at(0.0).velocity == pytest.approx(50.0)
    assert plan.cues_at(5.0).velocity == pytest.approx(70.0)
    assert plan.cues_at(10.0).velocity == pytest.approx(90.0)
    _, labels = clip_labels(plan)
    assert np.all(np.diff(labels[:, 1]) > 0)
    np.testing.assert_allclose(labels[:, 0], labels[0, 0])


def test_sections_of_three_part_plan_hold_between_ramps(make_section):
    a, b, c = make_section(tempo_bpm=60.0), make_section(tempo_bpm=120.0), make_section(tempo_bpm=90.0)
    plan = ClipPlan(
        seed=0,
        duration_s=30.0,
        tonic=0,
        progression=0,
        sections=(a, b, c),
        boundaries=(Boundary(8.0, 2.0), Boundary(20.0, 0.0)),
    )
    assert plan.section_span(0) == (0.0, 8.0)
    assert plan.section_span(1) == (10.0, 20.0)
    assert plan.section_span(2) == (20.0, 30.0)
    assert [plan.cues_at(t).tempo_bpm for t in (7.9, 9.0, 15.0, 19.99, 20.0, 29.0)] == pytest.approx(
        [60.0, 90.0, 120.0, 120.0, 90.0, 90.0]
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"tempo_bpm": 20.0},
        {"dissonance": 1.5},
        {"velocity": 120.0, "dynamics": 30.0},
        {"register": 20.0},
        {"staccato": -0.1},
        {"density": 1.5},
        {"ensemble": "kazoo"},
    ],
)
def test_out_of_range_section_is_a_config_error_naming_the_cue(make_section, changes):
    with pytest.raises(ConfigError, match=next(iter(changes)) if "dynamics" not in changes else "velocity"):
        make_section(**changes)


def test_inconsistent_boundaries_are_config_errors(make_section):
    s = make_section()
    with pytest.raises(ConfigError, match="boundaries"):
        ClipPlan(seed=0, duration_s=10.0, tonic=0, progression=0, sections=(s, s))
    with pytest.raises(ConfigError, match="boundaries.start_s"):
        two_sections(s, s, start_s=8.0, ramp_s=3.0, duration_s=10.0)
    with pytest.raises(ConfigError, match="tonic"):
        ClipPlan(seed=0, duration_s=10.0, tonic=12, progression=0, sections=(s,))


def test_plan_survives_a_json_round_trip(make_section):
    plan = two_sections(make_section(), make_section(major=False, ensemble="choir"), 5.0, 2.5)
    assert ClipPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan

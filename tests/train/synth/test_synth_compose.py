"""MIDI composition: deterministic, and the notes carry the cues the plan asks for."""

from __future__ import annotations

import io

import mido
import numpy as np

from train.synth.compose import (
    ACCOMPANIMENT,
    BASS,
    MAJOR_SCALE,
    MELODY,
    MINOR_SCALE,
    compose,
    compose_notes,
)
from train.synth.ensembles import DRUM_CHANNEL, ENSEMBLES
from train.synth.plan import Boundary, ClipPlan


def one_section(section, seed: int = 5, duration_s: float = 12.0, tonic: int = 0) -> ClipPlan:
    return ClipPlan(seed=seed, duration_s=duration_s, tonic=tonic, progression=0, sections=(section,))


def midi_bytes(plan: ClipPlan) -> bytes:
    buffer = io.BytesIO()
    compose(plan).save(file=buffer)
    return buffer.getvalue()


def test_same_plan_gives_identical_midi_and_another_seed_does_not(make_section):
    plan = one_section(make_section(dissonance=0.5, percussion=True))
    assert midi_bytes(plan) == midi_bytes(plan)
    assert midi_bytes(plan) != midi_bytes(one_section(make_section(dissonance=0.5, percussion=True), seed=6))


def test_midi_timing_is_one_tick_per_millisecond_and_matches_the_notes(make_section):
    plan = one_section(make_section())
    midi = mido.MidiFile(file=io.BytesIO(midi_bytes(plan)))
    seconds, onsets = 0.0, []
    for message in midi:
        seconds += message.time
        if message.type == "note_on" and message.velocity > 0 and message.channel == MELODY:
            onsets.append(seconds)
    notes, _ = compose_notes(plan)
    expected = sorted(n.start_s for n in notes if n.channel == MELODY)
    np.testing.assert_allclose(onsets, expected, atol=0.0006)
    assert seconds <= plan.duration_s


def test_onsets_follow_the_tempo_grid(make_section):
    for bpm in (60.0, 100.0, 150.0):
        notes, _ = compose_notes(one_section(make_section(tempo_bpm=bpm, density=2.0)))
        beat = 60.0 / bpm
        chord_onsets = np.array(sorted({round(n.start_s, 3) for n in notes if n.channel == ACCOMPANIMENT}))
        phase = (chord_onsets / beat + 0.5) % 1.0 - 0.5
        assert np.all(np.abs(phase * beat) < 0.012)
        assert len(chord_onsets) > 0.8 * (12.0 - 0.2) / beat


def test_articulation_velocity_register_and_density_shape_the_notes(make_section):
    def melody(**cues):
        notes, _ = compose_notes(one_section(make_section(**cues)))
        return [n for n in notes if n.channel == MELODY]

    beat = 60.0 / 100.0
    legato, staccato = melody(staccato=0.0), melody(staccato=1.0)
    assert np.median([n.end_s - n.start_s for n in legato]) > 0.9 * beat / 2
    assert np.median([n.end_s - n.start_s for n in staccato]) < 0.3 * beat / 2
    assert abs(np.mean([n.velocity for n in melody(velocity=40.0)]) - 41.0) < 4.0
    assert abs(np.mean([n.velocity for n in melody(velocity=110.0)]) - 111.0) < 4.0
    for register in (50.0, 80.0):
        assert abs(np.mean([n.pitch for n in melody(register=register)]) - register) < 5.0
    sparse, dense = len(melody(density=0.5)), len(melody(density=4.0))
    assert 6 < dense / sparse < 10


def test_mode_and_dissonance_set_the_pitch_content(make_section):
    for major, scale in ((True, MAJOR_SCALE), (False, MINOR_SCALE)):
        notes, _ = compose_notes(one_section(make_section(major=major), tonic=4))
        classes = {(n.pitch - 4) % 12 for n in notes if n.channel == MELODY}
        assert classes <= set(scale) and len(classes) >= 5

    def chord_intervals(dissonance):
        notes, _ = compose_notes(one_section(make_section(dissonance=dissonance, density=1.0)))
        chords: dict[float, list[int]] = {}
        for n in notes:
            if n.channel == ACCOMPANIMENT:
                chords.setdefault(round(n.start_s, 1), []).append(n.pitch)
        return [np.diff(sorted(p)).min() for p in chords.values() if len(p) > 1]

    assert min(chord_intervals(0.0)) >= 3
    assert all(i <= 1 for i in chord_intervals(1.0))


def test_ensembles_and_percussion_choose_programs_and_the_drum_channel(make_section):
    first, second = make_section(ensemble="strings"), make_section(ensemble="brass", percussion=True)
    plan = ClipPlan(
        seed=1, duration_s=12.0, tonic=0, progression=2, sections=(first, second), boundaries=(Boundary(6.0, 0.0),)
    )
    notes, programs = compose_notes(plan)
    by_time = sorted((p.time_s, p.channel, p.program) for p in programs)
    strings, brass = ENSEMBLES["strings"], ENSEMBLES["brass"]
    assert by_time[:3] == [
        (0.0, MELODY, strings.melody),
        (0.0, ACCOMPANIMENT, strings.accompaniment),
        (0.0, BASS, strings.bass),
    ]
    assert [(c, p) for t, c, p in by_time[3:]] == [
        (MELODY, brass.melody),
        (ACCOMPANIMENT, brass.accompaniment),
        (BASS, brass.bass),
    ]
    assert 6.0 <= by_time[3][0] < 6.7
    drums = [n for n in notes if n.channel == DRUM_CHANNEL]
    assert drums and min(n.start_s for n in drums) >= by_time[3][0] - 0.011

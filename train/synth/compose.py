"""Compose a :class:`~train.synth.plan.ClipPlan` into a General MIDI file.

Four parts, one MIDI channel each: melody (0), accompaniment (1), bass (2) and a GM drum kit (9). Bars
have four beats; each beat lasts ``60 / tempo`` seconds with the tempo in force at its start, so tempo
ramps accelerate beat by beat. Each bar plays one chord of a four-chord progression in the current mode;
``dissonance`` adds a minor second and a tritone above the chord root to each chord, each with that
probability, and bends melody notes off the scale with 0.4 times it. ``density`` sets the melody's notes
per beat and the accompaniment's figure (whole-bar chords, half-bar chords, chords on the beats, triplet
or sixteenth arpeggios). ``staccato`` sets how much of each note's span it sounds. Velocities follow the
velocity curve of the plan with accents on beats 1 and 3 and a small jitter; onsets have a few
milliseconds of timing jitter. All random choices come from ``plan.seed``.

The MIDI file has one track at a fixed MIDI tempo with one tick per millisecond: musical tempo lives in
where the notes are placed, which lets the tempo change continuously.
"""

from __future__ import annotations

from dataclasses import dataclass

import mido
import numpy as np

from train.synth.ensembles import DRUM_CHANNEL
from train.synth.plan import ClipPlan, Cues

TICKS_PER_BEAT = 480
MIDI_TEMPO_US = 480_000
"""MIDI tempo (microseconds per MIDI beat): with 480 ticks per beat, one tick is one millisecond."""

MELODY, ACCOMPANIMENT, BASS = 0, 1, 2
BEATS_PER_BAR = 4
REVERB_SEND = 30
"""CC91 on every channel: a light room, the same for every clip."""

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
MAJOR_TRIAD, MINOR_TRIAD = (0, 4, 7), (0, 3, 7)
# (root in semitones above the tonic, triad) per bar; minor progressions use the major dominant.
MAJOR_PROGRESSIONS = (
    ((0, MAJOR_TRIAD), (7, MAJOR_TRIAD), (9, MINOR_TRIAD), (5, MAJOR_TRIAD)),
    ((0, MAJOR_TRIAD), (5, MAJOR_TRIAD), (7, MAJOR_TRIAD), (0, MAJOR_TRIAD)),
    ((0, MAJOR_TRIAD), (9, MINOR_TRIAD), (5, MAJOR_TRIAD), (7, MAJOR_TRIAD)),
    ((0, MAJOR_TRIAD), (2, MINOR_TRIAD), (7, MAJOR_TRIAD), (0, MAJOR_TRIAD)),
)
MINOR_PROGRESSIONS = (
    ((0, MINOR_TRIAD), (8, MAJOR_TRIAD), (3, MAJOR_TRIAD), (10, MAJOR_TRIAD)),
    ((0, MINOR_TRIAD), (5, MINOR_TRIAD), (7, MAJOR_TRIAD), (0, MINOR_TRIAD)),
    ((0, MINOR_TRIAD), (5, MINOR_TRIAD), (10, MAJOR_TRIAD), (3, MAJOR_TRIAD)),
    ((0, MINOR_TRIAD), (8, MAJOR_TRIAD), (5, MINOR_TRIAD), (7, MAJOR_TRIAD)),
)
N_PROGRESSIONS = len(MAJOR_PROGRESSIONS)
DISSONANT_ADDITIONS = (1, 6)
"""Semitones above the chord root added with probability ``dissonance``: minor ninth and tritone."""

KICK, SNARE, CLOSED_HAT, RIDE, CRASH = 36, 38, 42, 51, 49
REST_PROBABILITY = 0.1
TIMING_JITTER_S = 0.004
VELOCITY_JITTER = 3.0
END_MARGIN_S = 0.2
"""No onset later than this before the clip's end, so notes end inside the clip."""


@dataclass(frozen=True)
class Note:
    """One note: MIDI channel, pitch, start and end in seconds, velocity 1-127."""

    channel: int
    pitch: int
    start_s: float
    end_s: float
    velocity: int


@dataclass(frozen=True)
class ProgramChange:
    """A GM program (0-127) chosen on ``channel`` at ``time_s``."""

    channel: int
    program: int
    time_s: float


def beat_times(plan: ClipPlan) -> np.ndarray:
    """Start times of the beats in seconds, plus the end of the last beat; shape (n_beats + 1,)."""
    times = [0.0]
    while times[-1] < plan.duration_s:
        times.append(times[-1] + 60.0 / plan.cues_at(times[-1]).tempo_bpm)
    return np.array(times)


def gate(cues: Cues) -> float:
    """Fraction of a note's span that it sounds: 0.98 legato down to 0.23 staccato."""
    return 0.98 - 0.75 * cues.staccato


def nearest_with_class(pitch_class: int, centre: float) -> int:
    """The MIDI pitch of ``pitch_class`` nearest to ``centre`` (ties go down)."""
    base = int(np.floor(centre)) - 6
    return base + (pitch_class - base) % 12


class _Composer:
    """Walks the beats of a plan and collects notes; holds the melody's and arpeggio's running state."""

    def __init__(self, plan: ClipPlan) -> None:
        self.plan = plan
        self.rng = np.random.default_rng(plan.seed)
        self.notes: list[Note] = []
        self.programs: list[ProgramChange] = []
        self.melody_pitch: int | None = None
        self.arpeggio_step = 0

    def run(self) -> tuple[list[Note], list[ProgramChange]]:
        beats = beat_times(self.plan)
        ensemble = None
        addition_draws = np.ones(len(DISSONANT_ADDITIONS))
        drums_on = False
        for k in range(len(beats) - 1):
            start, length = float(beats[k]), float(beats[k + 1] - beats[k])
            if start > self.plan.duration_s - END_MARGIN_S:
                break
            cues = self.plan.cues_at(start)
            position = k % BEATS_PER_BAR
            if cues.ensemble != ensemble:
                ensemble = cues.ensemble
                timbre = cues.timbre
                for channel, program in (
                    (MELODY, timbre.melody),
                    (ACCOMPANIMENT, timbre.accompaniment),
                    (BASS, timbre.bass),
                ):
                    self.programs.append(ProgramChange(channel, program, start))
            if position == 0:
                addition_draws = self.rng.random(len(DISSONANT_ADDITIONS))
            chord = self.chord(k // BEATS_PER_BAR, cues, addition_draws)
            self.melody(start, length, position, cues, chord)
            self.accompaniment(start, length, position, cues, chord)
            self.bass(start, length, position, cues, chord)
            if cues.percussion:
                self.drums(start, length, position, cues, crash=not drums_on)
            drums_on = cues.percussion
        return self.notes, self.programs

    def chord(self, bar: int, cues: Cues, addition_draws: np.ndarray) -> list[int]:
        """Pitch classes of the bar's chord in the current mode, root first, plus each dissonant addition
        whose uniform draw (one per bar) lies below the current dissonance: the chord follows a change of
        mode or dissonance on the next beat, not the next bar."""
        progressions = MAJOR_PROGRESSIONS if cues.major else MINOR_PROGRESSIONS
        root, triad = progressions[self.plan.progression % len(progressions)][bar % BEATS_PER_BAR]
        root = (self.plan.tonic + root) % 12
        classes = [(root + step) % 12 for step in triad]
        classes += [
            (root + step) % 12
            for step, draw in zip(DISSONANT_ADDITIONS, addition_draws, strict=True)
            if draw < cues.dissonance
        ]
        return classes

    def add(self, channel: int, pitch: int, start: float, span: float, velocity: float) -> None:
        """Add a note with timing and velocity jitter, clipped to the clip."""
        onset = max(0.0, start + float(np.clip(self.rng.normal(0.0, TIMING_JITTER_S), -0.01, 0.01)))
        end = min(onset + span, self.plan.duration_s - 0.02)
        v = int(round(np.clip(velocity + self.rng.normal(0.0, VELOCITY_JITTER), 1, 127)))
        if end > onset and onset < self.plan.duration_s - END_MARGIN_S:
            self.notes.append(Note(channel, int(np.clip(pitch, 0, 127)), onset, end, v))

    def melody(self, start: float, length: float, position: int, cues: Cues, chord: list[int]) -> None:
        if cues.density < 1.0:
            if position % 2:
                return
            onsets, ioi = [start], 2 * length
        else:
            n = int(cues.density)
            ioi = length / n
            onsets = [start + j * ioi for j in range(n)]
        scale = MAJOR_SCALE if cues.major else MINOR_SCALE
        low, high = int(cues.register) - 12, int(cues.register) + 12
        candidates = [p for p in range(low, high + 1) if (p - self.plan.tonic) % 12 in scale]
        for j, onset in enumerate(onsets):
            if self.rng.random() < REST_PROBABILITY:
                continue
            current = cues.register if self.melody_pitch is None else self.melody_pitch
            index = int(np.argmin([abs(p - current) for p in candidates]))
            if j == 0 and position in (0, 2):
                chord_tones = [i for i, p in enumerate(candidates) if p % 12 in chord[:3]]
                index = min(chord_tones, key=lambda i: abs(i - index) + self.rng.random())
            else:
                step = int(self.rng.choice((-2, -1, -1, 0, 1, 1, 2)))
                if self.rng.random() < 0.1:
                    step = int(self.rng.choice((-4, 4)))
                if candidates[index] > cues.register + 7:
                    step = -abs(step)
                elif candidates[index] < cues.register - 7:
                    step = abs(step)
                index = int(np.clip(index + step, 0, len(candidates) - 1))
            pitch = candidates[index]
            self.melody_pitch = pitch
            if self.rng.random() < 0.4 * cues.dissonance:
                pitch += int(self.rng.choice((-1, 1)))
            accent = 8 if (j == 0 and position in (0, 2)) else 0
            self.add(MELODY, pitch, onset, gate(cues) * ioi, cues.velocity + accent)

    def accompaniment(self, start: float, length: float, position: int, cues: Cues, chord: list[int]) -> None:
        centre = cues.register - 12
        voicing = sorted({nearest_with_class(c, centre) for c in chord})
        velocity = 0.75 * cues.velocity
        if cues.density <= 2.0:
            every = {0.5: 4, 1.0: 2, 2.0: 1}[cues.density]
            if position % every == 0:
                for pitch in voicing:
                    self.add(ACCOMPANIMENT, pitch, start, gate(cues) * every * length, velocity)
            return
        n = int(cues.density)
        for j in range(n):
            pitch = voicing[self.arpeggio_step % len(voicing)]
            self.arpeggio_step += 1
            self.add(ACCOMPANIMENT, pitch, start + j * length / n, gate(cues) * length / n, velocity)

    def bass(self, start: float, length: float, position: int, cues: Cues, chord: list[int]) -> None:
        centre = max(cues.register - 24, 34.0)
        if position == 0:
            span = 4 if cues.density < 2.0 else 2
            self.add(
                BASS, nearest_with_class(chord[0], centre), start, gate(cues) * span * length, 0.85 * cues.velocity + 6
            )
        elif position == 2 and cues.density >= 2.0:
            fifth = (chord[0] + 7) % 12
            self.add(BASS, nearest_with_class(fifth, centre), start, gate(cues) * 2 * length, 0.85 * cues.velocity)

    def drums(self, start: float, length: float, position: int, cues: Cues, crash: bool) -> None:
        velocity = 0.9 * cues.velocity
        hit = min(0.1, 0.5 * length)
        if crash:
            self.add(DRUM_CHANNEL, CRASH, start, hit, velocity)
        self.add(
            DRUM_CHANNEL, KICK if position in (0, 2) else SNARE, start, hit, velocity + (6 if position == 0 else 0)
        )
        if cues.density <= 1.0:
            self.add(DRUM_CHANNEL, RIDE, start, hit, 0.8 * velocity)
            return
        n = 2 if cues.density < 4.0 else 4
        for j in range(n):
            self.add(DRUM_CHANNEL, CLOSED_HAT, start + j * length / n, hit, 0.7 * velocity)


def compose_notes(plan: ClipPlan) -> tuple[list[Note], list[ProgramChange]]:
    """The notes and program changes of ``plan`` (deterministic from ``plan.seed``)."""
    return _Composer(plan).run()


def to_midi(notes: list[Note], programs: list[ProgramChange]) -> mido.MidiFile:
    """A type-0 MIDI file, one tick per millisecond. A note is cut 2 ms before the next onset of the same
    pitch on its channel, since a note-off ends every sounding voice of that key."""
    trimmed: list[Note] = []
    by_key: dict[tuple[int, int], list[Note]] = {}
    for note in notes:
        by_key.setdefault((note.channel, note.pitch), []).append(note)
    for group in by_key.values():
        group.sort(key=lambda n: n.start_s)
        for note, following in zip(group, group[1:] + [None], strict=True):
            end = note.end_s if following is None else min(note.end_s, following.start_s - 0.002)
            if end - note.start_s >= 0.005:
                trimmed.append(Note(note.channel, note.pitch, note.start_s, end, note.velocity))

    events: list[tuple[int, int, mido.Message]] = []
    for channel in (MELODY, ACCOMPANIMENT, BASS, DRUM_CHANNEL):
        events.append((0, 0, mido.Message("control_change", channel=channel, control=91, value=REVERB_SEND)))
        events.append((0, 0, mido.Message("control_change", channel=channel, control=93, value=0)))
    for change in programs:
        events.append(
            (
                round(change.time_s * 1000),
                0,
                mido.Message("program_change", channel=change.channel, program=change.program),
            )
        )
    for note in trimmed:
        events.append(
            (
                round(note.start_s * 1000),
                2,
                mido.Message("note_on", channel=note.channel, note=note.pitch, velocity=note.velocity),
            )
        )
        events.append(
            (round(note.end_s * 1000), 1, mido.Message("note_off", channel=note.channel, note=note.pitch, velocity=0))
        )
    events.sort(key=lambda e: (e[0], e[1]))

    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=MIDI_TEMPO_US, time=0))
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    return midi


def compose(plan: ClipPlan) -> mido.MidiFile:
    """The General MIDI rendition of ``plan``."""
    return to_midi(*compose_notes(plan))

"""What a synthetic clip is made of: sections of musical parameters joined by steps or ramps.

A :class:`ClipPlan` is the complete, serialisable description of one clip; the MIDI, the audio and the
labels are all functions of it (the note-level choices are drawn from ``ClipPlan.seed``). Time runs in
seconds from the start of the clip.

Section ``i`` holds from the end of the previous boundary's ramp (or 0) to the start of the next boundary
(or the clip's end). Over a boundary's ramp the continuous parameters move linearly from their value at
the end of one section to their value at the start of the next; the discrete ones (mode, ensemble,
percussion, rhythmic density) switch at the ramp's midpoint. A ramp of 0 s is a step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from damer_core.spec import require
from train.synth.ensembles import ENSEMBLES, Ensemble

DENSITIES = (0.5, 1.0, 2.0, 3.0, 4.0)
"""Allowed melody note rates, in notes per beat."""

TEMPO_RANGE = (40.0, 200.0)
REGISTER_RANGE = (40.0, 88.0)


@dataclass(frozen=True)
class Cues:
    """The musical cues in force at one instant.

    Attributes:
        tempo_bpm: beats per minute.
        major: major mode (True) or minor (False).
        dissonance: 0 = plain triads, 1 = every chord carries a minor second and a tritone.
        velocity: mean MIDI note velocity (1-127), i.e. the played loudness.
        register: centre MIDI pitch of the melody (accompaniment an octave and bass two octaves lower).
        staccato: articulation, 0 = legato (notes held 98 % of their span), 1 = staccato (23 %).
        density: melody notes per beat, one of :data:`DENSITIES`.
        ensemble: key of :data:`train.synth.ensembles.ENSEMBLES`.
        percussion: whether a GM drum kit plays.
    """

    tempo_bpm: float
    major: bool
    dissonance: float
    velocity: float
    register: float
    staccato: float
    density: float
    ensemble: str
    percussion: bool

    @property
    def timbre(self) -> Ensemble:
        """The ensemble's programs and timbre ratings."""
        return ENSEMBLES[self.ensemble]

    def blend(self, other: Cues, weight: float) -> Cues:
        """Continuous cues linearly between ``self`` (weight 0) and ``other`` (weight 1); discrete cues
        from ``self`` below weight 0.5 and from ``other`` from 0.5 on."""
        lerp = {
            name: (1 - weight) * getattr(self, name) + weight * getattr(other, name)
            for name in ("tempo_bpm", "dissonance", "velocity", "register", "staccato")
        }
        discrete = self if weight < 0.5 else other
        return dataclasses.replace(discrete, **lerp)


@dataclass(frozen=True)
class Section:
    """Musical parameters held over one section; ``dynamics`` is the change of velocity from the start
    to the end of the section (positive: crescendo, negative: diminuendo), centred on ``velocity``."""

    tempo_bpm: float
    major: bool
    dissonance: float
    velocity: float
    dynamics: float
    register: float
    staccato: float
    density: float
    ensemble: str
    percussion: bool

    def __post_init__(self) -> None:
        lo, hi = TEMPO_RANGE
        require(lo <= self.tempo_bpm <= hi, "tempo_bpm", f"in [{lo}, {hi}]", self.tempo_bpm)
        require(0.0 <= self.dissonance <= 1.0, "dissonance", "in [0, 1]", self.dissonance)
        for end in (-0.5, 0.5):
            v = self.velocity + end * self.dynamics
            require(1.0 <= v <= 127.0, "velocity", "within [1, 127] including dynamics", v)
        lo, hi = REGISTER_RANGE
        require(lo <= self.register <= hi, "register", f"in [{lo}, {hi}]", self.register)
        require(0.0 <= self.staccato <= 1.0, "staccato", "in [0, 1]", self.staccato)
        require(self.density in DENSITIES, "density", f"one of {DENSITIES}", self.density)
        require(self.ensemble in ENSEMBLES, "ensemble", f"one of {sorted(ENSEMBLES)}", self.ensemble)

    def cues(self, fraction: float) -> Cues:
        """Cues at ``fraction`` (0..1) of the way through the section."""
        return Cues(
            tempo_bpm=self.tempo_bpm,
            major=self.major,
            dissonance=self.dissonance,
            velocity=self.velocity + (fraction - 0.5) * self.dynamics,
            register=self.register,
            staccato=self.staccato,
            density=self.density,
            ensemble=self.ensemble,
            percussion=self.percussion,
        )


@dataclass(frozen=True)
class Boundary:
    """A change between two sections: it starts at ``start_s`` and lasts ``ramp_s`` (0 = a step)."""

    start_s: float
    ramp_s: float


@dataclass(frozen=True)
class ClipPlan:
    """One clip: ``sections[i]`` and ``sections[i+1]`` are joined by ``boundaries[i]``.

    Attributes:
        seed: seed of the note-level choices (melody, voicings, timing and velocity jitter).
        duration_s: clip length in seconds.
        tonic: pitch class of the key (0 = C).
        progression: index of the chord progression (within the current mode's list).
        sections: one or more sections.
        boundaries: ``len(sections) - 1`` changes, in time order, not overlapping.
    """

    seed: int
    duration_s: float
    tonic: int
    progression: int
    sections: tuple[Section, ...]
    boundaries: tuple[Boundary, ...] = ()

    def __post_init__(self) -> None:
        require(self.duration_s > 0, "duration_s", "> 0", self.duration_s)
        require(0 <= self.tonic < 12, "tonic", "in 0..11", self.tonic)
        require(self.progression >= 0, "progression", ">= 0", self.progression)
        require(len(self.sections) >= 1, "sections", "at least one", len(self.sections))
        require(
            len(self.boundaries) == len(self.sections) - 1,
            "boundaries",
            "one fewer than sections",
            len(self.boundaries),
        )
        previous_end = 0.0
        for b in self.boundaries:
            require(b.ramp_s >= 0, "boundaries.ramp_s", ">= 0", b.ramp_s)
            require(
                previous_end < b.start_s and b.start_s + b.ramp_s < self.duration_s,
                "boundaries.start_s",
                "after the previous change and before the clip's end",
                b.start_s,
            )
            previous_end = b.start_s + b.ramp_s

    def section_span(self, index: int) -> tuple[float, float]:
        """(start, end) in seconds of section ``index`` outside any ramp."""
        start = 0.0 if index == 0 else self.boundaries[index - 1].start_s + self.boundaries[index - 1].ramp_s
        end = self.duration_s if index == len(self.sections) - 1 else self.boundaries[index].start_s
        return start, end

    def cues_at(self, time_s: float) -> Cues:
        """The cues in force at ``time_s`` seconds (clamped to the clip)."""
        t = min(max(time_s, 0.0), self.duration_s)
        for i, boundary in enumerate(self.boundaries):
            if t < boundary.start_s:
                return self._section_cues(i, t)
            if t < boundary.start_s + boundary.ramp_s:
                weight = (t - boundary.start_s) / boundary.ramp_s
                return self._section_cues(i, boundary.start_s).blend(
                    self._section_cues(i + 1, boundary.start_s + boundary.ramp_s), weight
                )
        return self._section_cues(len(self.sections) - 1, t)

    def _section_cues(self, index: int, t: float) -> Cues:
        start, end = self.section_span(index)
        return self.sections[index].cues((t - start) / (end - start))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary (inverse: :meth:`from_dict`)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipPlan:
        """Rebuild a plan written by :meth:`to_dict`."""
        return cls(
            seed=int(data["seed"]),
            duration_s=float(data["duration_s"]),
            tonic=int(data["tonic"]),
            progression=int(data["progression"]),
            sections=tuple(Section(**s) for s in data["sections"]),
            boundaries=tuple(Boundary(**b) for b in data["boundaries"]),
        )

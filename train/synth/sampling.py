"""Draw clip plans from seeds so that the corpus covers the valence-arousal plane.

Each section first draws a latent target ``(v*, a*)`` uniformly in [-1, 1]²; every cue is then drawn
around the value that the target suggests, with noise wide enough that the cues also vary independently
of one another (so that no single cue explains the labels). The labels are computed afterwards from the
cues actually drawn (:mod:`train.synth.labels`), never from the latent target.

A changing clip has two or three sections whose targets lie at least :data:`MIN_TARGET_DISTANCE` apart,
joined by steps or ramps; it keeps its key and, half of the time, its ensemble, so a change of emotion is
not always a change of instruments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from damer_core.spec import require
from train.synth.compose import N_PROGRESSIONS
from train.synth.ensembles import ENSEMBLES
from train.synth.plan import DENSITIES, Boundary, ClipPlan, Section

MIN_TARGET_DISTANCE = 0.8
MIN_SECTION_S = 5.0
ENSEMBLE_NAMES = tuple(sorted(ENSEMBLES))


@dataclass(frozen=True)
class SamplingConfig:
    """How clips are drawn.

    Attributes:
        min_duration_s, max_duration_s: clip length, uniform in this range.
        change_fraction: probability that a clip changes emotion mid-clip.
        three_section_fraction: among changing clips long enough for it, probability of two changes.
        ramp_fraction: probability that a change is a ramp rather than a step.
        max_ramp_s: ramps last between 2 s and this.
        ensembles: ensembles to draw from (all by default); restricting them gives splits by instrument.
    """

    min_duration_s: float = 20.0
    max_duration_s: float = 30.0
    change_fraction: float = 0.4
    three_section_fraction: float = 0.3
    ramp_fraction: float = 0.5
    max_ramp_s: float = 6.0
    ensembles: tuple[str, ...] = ENSEMBLE_NAMES

    def __post_init__(self) -> None:
        require(
            0 < self.min_duration_s <= self.max_duration_s,
            "min_duration_s",
            "> 0 and <= max_duration_s",
            self.min_duration_s,
        )
        require(0.0 <= self.change_fraction <= 1.0, "change_fraction", "in [0, 1]", self.change_fraction)
        require(
            0.0 <= self.three_section_fraction <= 1.0,
            "three_section_fraction",
            "in [0, 1]",
            self.three_section_fraction,
        )
        require(0.0 <= self.ramp_fraction <= 1.0, "ramp_fraction", "in [0, 1]", self.ramp_fraction)
        require(self.max_ramp_s >= 2.0, "max_ramp_s", ">= 2 s", self.max_ramp_s)
        require(
            len(self.ensembles) > 0 and all(e in ENSEMBLES for e in self.ensembles),
            "ensembles",
            f"a non-empty subset of {list(ENSEMBLE_NAMES)}",
            self.ensembles,
        )


def clip_seed(corpus_seed: int, index: int) -> int:
    """The seed of clip ``index`` of the corpus drawn with ``corpus_seed`` (a 63-bit integer)."""
    state = np.random.SeedSequence([corpus_seed, index]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def sample_section(rng: np.random.Generator, target: tuple[float, float], ensemble: str) -> Section:
    """Cues drawn around the latent ``target`` = (valence*, arousal*), each in [-1, 1]."""
    v, a = target
    tempo = float(np.clip(100.0 * 2.0 ** (0.7 * a + 0.15 * v + rng.normal(0.0, 0.25)), 50.0, 190.0))
    velocity = float(np.clip(75.0 + 30.0 * a + rng.normal(0.0, 12.0), 28.0, 120.0))
    dynamics = 0.0 if rng.random() < 0.4 else float(rng.normal(0.0, 15.0))
    half_room = min(velocity - 5.0, 125.0 - velocity)
    dynamics = float(np.clip(dynamics, -2.0 * half_room, 2.0 * half_room))
    density_index = int(np.clip(round(1.8 + 1.5 * a + rng.normal(0.0, 0.8)), 0, len(DENSITIES) - 1))
    return Section(
        tempo_bpm=round(tempo, 2),
        major=bool(rng.random() < 0.5 + 0.4 * v),
        dissonance=round(float(np.clip(0.3 - 0.3 * v + 0.1 * a + rng.normal(0.0, 0.2), 0.0, 1.0)), 3),
        velocity=round(velocity, 2),
        dynamics=round(dynamics, 2),
        register=round(float(np.clip(64.0 + 6.0 * v + 3.0 * a + rng.normal(0.0, 6.0), 46.0, 84.0)), 1),
        staccato=round(float(np.clip(0.4 + 0.3 * a + 0.1 * v + rng.normal(0.0, 0.25), 0.0, 1.0)), 3),
        density=DENSITIES[density_index],
        ensemble=ensemble,
        percussion=bool(rng.random() < _sigmoid(-1.0 + 1.5 * a)),
    )


def sample_ensemble(rng: np.random.Generator, arousal: float, names: tuple[str, ...]) -> str:
    """An ensemble, bright ones more likely for high arousal targets (every one stays possible)."""
    brightness = np.array([ENSEMBLES[n].brightness for n in names])
    weights = np.exp(1.5 * arousal * (brightness - 0.5))
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def sample_target(rng: np.random.Generator, away_from: tuple[float, float] | None) -> tuple[float, float]:
    """A uniform target, at least :data:`MIN_TARGET_DISTANCE` from ``away_from`` when given."""
    while True:
        target = (float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1)))
        if away_from is None or math.dist(target, away_from) >= MIN_TARGET_DISTANCE:
            return target


def sample_plan(seed: int, config: SamplingConfig = SamplingConfig()) -> ClipPlan:
    """The clip plan drawn from ``seed`` (same seed and config, same plan)."""
    rng = np.random.default_rng(seed)
    duration = round(float(rng.uniform(config.min_duration_s, config.max_duration_s)), 2)
    n_sections = 1
    if rng.random() < config.change_fraction:
        n_sections = 3 if rng.random() < config.three_section_fraction else 2
    ramps = [
        float(rng.uniform(2.0, config.max_ramp_s)) if rng.random() < config.ramp_fraction else 0.0
        for _ in range(n_sections - 1)
    ]
    while ramps and n_sections * MIN_SECTION_S + sum(ramps) >= duration:
        n_sections -= 1
        ramps.pop()

    boundaries: list[Boundary] = []
    free = max(duration - sum(ramps) - n_sections * MIN_SECTION_S, 0.0)
    cuts = np.sort(rng.uniform(0.0, free, size=n_sections - 1))
    elapsed = 0.0
    for i, ramp in enumerate(ramps):
        start = (i + 1) * MIN_SECTION_S + float(cuts[i]) + elapsed
        boundaries.append(Boundary(start_s=round(start, 3), ramp_s=round(ramp, 3)))
        elapsed += ramp

    sections: list[Section] = []
    target = None
    ensemble = None
    for _ in range(n_sections):
        target = sample_target(rng, target)
        if ensemble is None or rng.random() < 0.5:
            ensemble = sample_ensemble(rng, target[1], config.ensembles)
        sections.append(sample_section(rng, target, ensemble))
    return ClipPlan(
        seed=seed,
        duration_s=duration,
        tonic=int(rng.integers(12)),
        progression=int(rng.integers(N_PROGRESSIONS)),
        sections=tuple(sections),
        boundaries=tuple(boundaries),
    )

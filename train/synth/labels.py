"""Valence and arousal of synthetic music, computed from the musical cues in force at each instant.

The mapping is linear and additive in normalised cues, as Eerola, Friberg & Bresin (2013, "Emotional
expression in music: contribution, linearity, and additivity of primary musical cues", Frontiers in
Psychology 4:487) found for listeners' ratings of systematically varied music: mode, tempo, register,
dynamics, articulation and timbre contributed mostly linearly and additively, interactions being small.
The weighted sum is squashed by ``tanh`` into (-1, 1), which keeps every cue's effect monotonic.

Each cue is first scaled to about [-1, 1] over the generator's range (see :func:`normalised_cues`).
Directions and relative sizes, and the findings they follow:

================ ========= ========= ==============================================================
cue              valence   arousal   findings
================ ========= ========= ==============================================================
mode (major)     +0.40     0         Hevner 1935/1936 (major: happy, graceful; minor: sad, dreamy);
                                     Gabrielsson & Lindström 2010 review; Eerola et al. 2013
                                     (mode the largest cue for valence, little effect on energy).
tempo (log bpm)  +0.15     +0.30     Hevner 1936 (fast: happy, exciting; slow: serene, sad);
                                     Juslin & Laukka 2003 (fast tempo: happiness, anger; slow:
                                     sadness, tenderness); Eerola et al. 2013 (tempo the largest
                                     cue for energy); Schubert 2004 (tempo tracks arousal over time).
loudness         0         +0.30     Gabrielsson & Lindström 2010 (loud: intensity, power, tension;
(velocity)                           soft: calm, tenderness, sadness: both valences); Juslin & Laukka
                                     2003; Schubert 2004 (loudness the best predictor of arousal).
rhythmic density 0         +0.20     Gabrielsson & Lindström 2010 (many note events / rhythmic
(notes per beat)                     activity: excitement, high activity; few: calm).
articulation     +0.06     +0.10     Juslin & Laukka 2003 (staccato: happiness, anger; legato:
(staccato)                           sadness, tenderness); Eerola et al. 2013 (small effects).
dissonance       -0.30     +0.08     Hevner 1936 (complex dissonant harmony: exciting, agitating,
                                     sad; simple consonant: happy, serene); Gabrielsson & Lindström
                                     2010 (dissonance: unpleasantness, tension).
register (pitch) +0.12     +0.06     Hevner 1936 (high: happy, playful; low: sad, dignified);
                                     Gabrielsson & Lindström 2010; Schubert 2004 (melodic pitch
                                     relates to valence); Eerola et al. 2013 (small effects).
timbre           0         +0.10     Eerola et al. 2013 and Juslin & Laukka 2003 (bright/sharp
brightness                           timbres: higher energy, anger; soft/dull: tenderness, sadness).
timbre roughness -0.10     0         Juslin & Laukka 2003 (sharp, harsh timbre: anger, i.e. negative
                                     valence); Gabrielsson & Lindström 2010.
percussion       0         +0.12     rhythmic activity as above: a drum kit adds onsets and
                                     attacks (Gabrielsson & Lindström 2010).
================ ========= ========= ==============================================================

``valence = tanh(GAIN * sum(w_v * z))``, ``arousal = tanh(GAIN * sum(w_a * z))``. With every cue at one
end of its range the sum is about ±1.13 (valence) and ±1.26 (arousal), i.e. ±0.94 and ±0.96 after the
squash. The weights are this project's reading of the relative cue sizes reported above, not fitted
values.

Labels describe the music as played at each instant: a change of parameters changes the label at once.
Listeners' continuous ratings lag such changes by about 1-3 s (Schubert 2004); that lag is deliberately
not modelled, so that a model learns to follow the music rather than the raters' delay.

References:
    Eerola, T., Friberg, A. & Bresin, R. (2013). Emotional expression in music: contribution, linearity,
    and additivity of primary musical cues. Frontiers in Psychology 4, 487.
    Gabrielsson, A. & Lindström, E. (2010). The role of structure in the musical expression of emotions.
    In Juslin & Sloboda (eds.), Handbook of Music and Emotion, 367-400. Oxford University Press.
    Hevner, K. (1935). The affective character of the major and minor modes in music. American Journal of
    Psychology 47, 103-118. Hevner, K. (1936). Experimental studies of the elements of expression in
    music. American Journal of Psychology 48, 246-268.
    Juslin, P. N. & Laukka, P. (2003). Communication of emotions in vocal expression and music
    performance: different channels, same code? Psychological Bulletin 129, 770-814.
    Schubert, E. (2004). Modeling perceived emotion with continuous musical features. Music Perception
    21, 561-585.
"""

from __future__ import annotations

import math

import numpy as np

from train.synth.plan import ClipPlan, Cues

GAIN = 1.5
"""Slope of the saturating squash applied to the weighted sum."""

LABEL_RATE_HZ = 2.0
"""Default rate of the time-varying labels (as in the DEAM and EmoMusic dynamic annotations)."""

# weights[cue] = (valence weight, arousal weight), over the normalised cues of normalised_cues().
WEIGHTS: dict[str, tuple[float, float]] = {
    "mode": (0.40, 0.00),
    "tempo": (0.15, 0.30),
    "loudness": (0.00, 0.30),
    "density": (0.00, 0.20),
    "staccato": (0.06, 0.10),
    "dissonance": (-0.30, 0.08),
    "register": (0.12, 0.06),
    "brightness": (0.00, 0.10),
    "roughness": (-0.10, 0.00),
    "percussion": (0.00, 0.12),
}


def normalised_cues(cues: Cues) -> dict[str, float]:
    """Each cue scaled to about [-1, 1] over the generator's range (0 at its middle).

    tempo: log2(bpm / 100) / 0.85 (55 bpm -> -1, 180 bpm -> +1); loudness: (velocity - 75) / 45
    (30 -> -1, 120 -> +1); density: log2(notes per beat / sqrt 2) / 1.5 (0.5 -> -1, 4 -> +1); register:
    (pitch - 66) / 18 (48 -> -1, 84 -> +1); mode and percussion: +1 / -1; staccato, dissonance,
    brightness, roughness: 2 x - 1.
    """
    timbre = cues.timbre
    return {
        "mode": 1.0 if cues.major else -1.0,
        "tempo": math.log2(cues.tempo_bpm / 100.0) / 0.85,
        "loudness": (cues.velocity - 75.0) / 45.0,
        "density": math.log2(cues.density / math.sqrt(2.0)) / 1.5,
        "staccato": 2.0 * cues.staccato - 1.0,
        "dissonance": 2.0 * cues.dissonance - 1.0,
        "register": (cues.register - 66.0) / 18.0,
        "brightness": 2.0 * timbre.brightness - 1.0,
        "roughness": 2.0 * timbre.roughness - 1.0,
        "percussion": 1.0 if cues.percussion else -1.0,
    }


def valence_arousal(cues: Cues) -> tuple[float, float]:
    """(valence, arousal) in (-1, 1) of music played with ``cues``."""
    z = normalised_cues(cues)
    valence = sum(WEIGHTS[name][0] * value for name, value in z.items())
    arousal = sum(WEIGHTS[name][1] * value for name, value in z.items())
    return math.tanh(GAIN * valence), math.tanh(GAIN * arousal)


def label_times(duration_s: float, rate_hz: float = LABEL_RATE_HZ) -> np.ndarray:
    """Label instants ``k / rate_hz`` for ``k = 0, 1, ...`` strictly before ``duration_s``; shape (T,)."""
    return np.arange(math.ceil(duration_s * rate_hz - 1e-9)) / rate_hz


def clip_labels(plan: ClipPlan, rate_hz: float = LABEL_RATE_HZ) -> tuple[np.ndarray, np.ndarray]:
    """Times (T,) in seconds and labels (T, 2) [valence, arousal] of ``plan``, sampled at ``rate_hz``."""
    times = label_times(plan.duration_s, rate_hz)
    labels = np.array([valence_arousal(plan.cues_at(float(t))) for t in times], dtype=np.float64)
    return times, labels.reshape(len(times), 2)

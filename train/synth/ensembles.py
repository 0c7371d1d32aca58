"""General MIDI ensembles the generator plays, with the timbre ratings that the label mapping uses.

Each ensemble names three GM programs (0-based: melody, accompaniment, bass) and two hand-assigned timbre
ratings in [0, 1]: ``brightness`` (energy high in the spectrum, sharp attacks: trumpet, distorted guitar,
saw lead high; horn, flute, pads low) and ``roughness`` (harsh, noisy or distorted sound). ``family``
groups ensembles for splits held out by instrument.
"""

from __future__ import annotations

from dataclasses import dataclass

DRUM_CHANNEL = 9


@dataclass(frozen=True)
class Ensemble:
    """Three GM programs (0-127) and timbre ratings in [0, 1]."""

    family: str
    melody: int
    accompaniment: int
    bass: int
    brightness: float
    roughness: float


ENSEMBLES: dict[str, Ensemble] = {
    "piano": Ensemble("keyboard", 0, 0, 0, 0.50, 0.10),
    "electric_piano": Ensemble("keyboard", 4, 4, 33, 0.40, 0.10),
    "clavinet_funk": Ensemble("keyboard", 7, 4, 33, 0.75, 0.30),
    "organ": Ensemble("keyboard", 19, 19, 19, 0.60, 0.20),
    "strings": Ensemble("strings", 40, 48, 42, 0.35, 0.10),
    "oboe_strings": Ensemble("strings", 68, 48, 43, 0.60, 0.15),
    "choir": Ensemble("voice", 52, 48, 42, 0.30, 0.05),
    "woodwinds": Ensemble("winds", 73, 71, 70, 0.40, 0.05),
    "horns": Ensemble("brass", 60, 60, 58, 0.30, 0.10),
    "brass": Ensemble("brass", 56, 61, 58, 0.85, 0.35),
    "nylon_guitar": Ensemble("guitar", 24, 24, 32, 0.35, 0.05),
    "harp": Ensemble("guitar", 46, 46, 32, 0.45, 0.00),
    "rock": Ensemble("electric", 30, 29, 34, 0.90, 0.80),
    "synth": Ensemble("synth", 81, 90, 38, 0.90, 0.55),
    "ambient": Ensemble("synth", 11, 89, 32, 0.25, 0.00),
    "mallets": Ensemble("mallets", 12, 8, 32, 0.60, 0.05),
}

"""The demo clip shipped with the engine (``streamer/data/demo.ogg``): four sections, one per quadrant of
the valence-arousal plane, joined by steps and a ramp.

Regenerate it (the shipped file was rendered with FluidR3_GM, Debian package ``fluid-soundfont-gm``)::

    python -m train.synth.demo --out streamer/data/demo.ogg

which also writes ``streamer/data/demo_labels.csv`` (``path,valence,arousal,time`` at 2 Hz, the corpus
label format). The engine only reads the audio file; it never imports this module.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import soundfile

from damer_core.errors import DamerError
from train.synth.compose import compose
from train.synth.labels import clip_labels
from train.synth.plan import Boundary, ClipPlan, Section
from train.synth.render import DEFAULT_GAIN, check_soundfont, render

DEMO_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SAMPLE_RATE = 22050
OGG_COMPRESSION = 0.6
"""libsndfile's Vorbis compression level (0 best quality, 1 smallest): keeps the file well under 1 MB."""

CALM = Section(
    tempo_bpm=66.0,
    major=True,
    dissonance=0.0,
    velocity=52.0,
    dynamics=8.0,
    register=68.0,
    staccato=0.05,
    density=1.0,
    ensemble="ambient",
    percussion=False,
)
AGITATED = Section(
    tempo_bpm=160.0,
    major=False,
    dissonance=0.8,
    velocity=110.0,
    dynamics=0.0,
    register=62.0,
    staccato=0.75,
    density=4.0,
    ensemble="rock",
    percussion=True,
)
SAD = Section(
    tempo_bpm=56.0,
    major=False,
    dissonance=0.3,
    velocity=46.0,
    dynamics=-10.0,
    register=54.0,
    staccato=0.0,
    density=1.0,
    ensemble="strings",
    percussion=False,
)
HAPPY = Section(
    tempo_bpm=132.0,
    major=True,
    dissonance=0.0,
    velocity=90.0,
    dynamics=6.0,
    register=76.0,
    staccato=0.6,
    density=2.0,
    ensemble="mallets",
    percussion=True,
)

DEMO_PLAN = ClipPlan(
    seed=20250101,
    duration_s=52.0,
    tonic=2,
    progression=0,
    sections=(CALM, AGITATED, SAD, HAPPY),
    boundaries=(
        Boundary(start_s=12.0, ramp_s=0.0),
        Boundary(start_s=24.0, ramp_s=3.0),
        Boundary(start_s=39.0, ramp_s=0.0),
    ),
)
SECTION_NAMES = ("calm", "agitated", "sad", "happy")


def write_demo(out: Path, soundfont: Path = DEMO_SOUNDFONT, gain: float = DEFAULT_GAIN) -> Path:
    """Render :data:`DEMO_PLAN` to the Ogg Vorbis file ``out`` and its labels to ``<stem>_labels.csv``
    beside it; return the labels path."""
    rendering = render(compose(DEMO_PLAN), check_soundfont(soundfont), DEMO_PLAN.duration_s, SAMPLE_RATE, gain)
    out.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(
        str(out), rendering.audio, SAMPLE_RATE, format="OGG", subtype="VORBIS", compression_level=OGG_COMPRESSION
    )
    labels_path = out.with_name(f"{out.stem}_labels.csv")
    times, labels = clip_labels(DEMO_PLAN)
    with labels_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", "valence", "arousal", "time"))
        for t, (v, a) in zip(times, labels, strict=True):
            writer.writerow((out.name, round(float(v), 4), round(float(a), 4), round(float(t), 3)))
    return labels_path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m train.synth.demo --out FILE.ogg [--soundfont SF2]``."""
    parser = argparse.ArgumentParser(prog="python -m train.synth.demo", description="Render the demo clip.")
    parser.add_argument("--out", type=Path, required=True, help="Ogg Vorbis file to write")
    parser.add_argument("--soundfont", type=Path, default=DEMO_SOUNDFONT, help=f"default {DEMO_SOUNDFONT}")
    args = parser.parse_args(argv)
    try:
        labels_path = write_demo(args.out, args.soundfont)
    except DamerError as exc:
        print(f"train.synth.demo: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) and {labels_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

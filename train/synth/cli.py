"""Command line of the synthetic corpus generator: ``python -m train.synth`` and ``damer synth``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from damer_core.errors import DamerError
from train.synth.corpus import AUDIO_FORMATS, RenderSettings, generate_corpus
from train.synth.labels import LABEL_RATE_HZ
from train.synth.render import DEFAULT_GAIN
from train.synth.sampling import ENSEMBLE_NAMES, SamplingConfig

DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
DESCRIPTION = (
    "Generate labelled synthetic music: MIDI from musical cues with known emotional correlates, "
    "rendered by FluidSynth, with valence/arousal labels over time."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the generator's options to ``parser``."""
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--n", type=int, required=True, help="number of clips")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument(
        "--soundfont",
        type=Path,
        nargs="+",
        default=[DEFAULT_SOUNDFONT],
        metavar="SF2",
        help=f"SoundFont files, used in turn (default {DEFAULT_SOUNDFONT})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel rendering processes (default: number of CPUs)",
    )
    parser.add_argument("--min-duration", type=float, default=20.0, help="shortest clip, s (default 20)")
    parser.add_argument("--max-duration", type=float, default=30.0, help="longest clip, s (default 30)")
    parser.add_argument(
        "--change-fraction",
        type=float,
        default=0.4,
        help="fraction of clips whose emotion changes mid-clip (default 0.4)",
    )
    parser.add_argument(
        "--ensembles",
        nargs="+",
        default=list(ENSEMBLE_NAMES),
        choices=ENSEMBLE_NAMES,
        metavar="NAME",
        help="ensembles to draw from (default: all)",
    )
    parser.add_argument("--format", choices=sorted(AUDIO_FORMATS), default="flac", help="audio format")
    parser.add_argument("--gain", type=float, default=DEFAULT_GAIN, help="FluidSynth master gain")
    parser.add_argument("--label-rate", type=float, default=LABEL_RATE_HZ, help="labels per second")


def run(args: argparse.Namespace) -> int:
    """Generate the corpus described by ``args``; print a one-line summary."""
    sampling = SamplingConfig(
        min_duration_s=args.min_duration,
        max_duration_s=args.max_duration,
        change_fraction=args.change_fraction,
        ensembles=tuple(args.ensembles),
    )
    settings = RenderSettings(gain=args.gain, audio_format=args.format, label_rate_hz=args.label_rate)
    summary = generate_corpus(
        args.out, args.n, args.seed, args.soundfont, sampling, settings, workers=args.workers, progress=True
    )
    print(
        f"{summary['n']} clips, {summary['audio_seconds'] / 60:.1f} min of audio in "
        f"{summary['elapsed_s']:.1f} s ({summary['clips_per_minute']:.0f} clips/min, "
        f"{summary['x_realtime']:.0f}x real time, {summary['workers']} workers) -> {args.out}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` sub-command to the ``damer`` dispatcher."""
    parser = subparsers.add_parser("synth", help="generate labelled synthetic music", description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(run=run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m train.synth``: same options as ``damer synth``."""
    parser = argparse.ArgumentParser(prog="python -m train.synth", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except DamerError as exc:
        print(f"train.synth: error: {exc}", file=sys.stderr)
        return 2

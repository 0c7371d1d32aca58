"""How fast the streamed arousal follows a change of music: energetic -> calm -> energetic.

Each trial splices a calm excerpt into an energetic one and back (``SEGMENT_S`` seconds each). By default
the excerpts are synthetic (:mod:`train.synth`: a fast, loud, staccato, percussive section and a slow, soft,
legato one, with an ensemble pair and a seed per trial, rendered by FluidSynth), so the sound changes at a
known instant; ``--calm``/``--energetic`` splice real files instead (the first ``SEGMENT_S`` s of
``--energetic``, then of ``--calm``, then the next ``SEGMENT_S`` s of ``--energetic``).

The spliced signal is streamed in engine-sized blocks through the front-end and the model (the live path).
For each switch, the two plateaus are the mean streamed arousal over the last ``PLATEAU_S`` seconds before
the switch and before the segment after it ends; the response time is the time from the switch until the
arousal first crosses halfway between them (tokens are timed by the end of their audio). A switch whose
plateaus are less than ``MIN_STEP`` apart is reported but not timed (the model did not tell the two apart).

Usage: ``python bench/response.py [--bundle PATH] [--trials N] [--json PATH]``; prints a table and the
median response time (``response_median_s`` in the JSON). Target at the default config: <= 1.5 s.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from bench.live_path import stream_va
from damer_core.bundle import default_bundle_path, load_bundle
from train.audio import load_audio
from train.synth.compose import compose
from train.synth.plan import ClipPlan, Section
from train.synth.render import check_soundfont, render

SEGMENT_S = 12.0
PLATEAU_S = 3.0
MIN_STEP = 0.1
BLOCK = 512  # samples per engine update (two hops at 22050 Hz)
SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
PAIRS = (("rock", "strings"), ("synth", "ambient"), ("brass", "piano"), ("clavinet_funk", "woodwinds"),
         ("horns", "harp"), ("electric_piano", "oboe_strings"))  # fmt: skip


def energetic(ensemble: str) -> Section:
    return Section(tempo_bpm=168.0, major=True, dissonance=0.3, velocity=112.0, dynamics=0.0, register=70.0,
                   staccato=0.7, density=4.0, ensemble=ensemble, percussion=True)  # fmt: skip


def calm(ensemble: str) -> Section:
    return Section(tempo_bpm=58.0, major=True, dissonance=0.0, velocity=44.0, dynamics=0.0, register=62.0,
                   staccato=0.0, density=0.5, ensemble=ensemble, percussion=False)  # fmt: skip


def synthetic_trial(index: int, sample_rate: int, soundfont: Path) -> np.ndarray:
    """Energetic, calm and energetic again, ``SEGMENT_S`` each: each section rendered as its own clip."""
    loud, soft = PAIRS[index % len(PAIRS)]
    parts = []
    for part, section in enumerate((energetic(loud), calm(soft), energetic(loud))):
        plan = ClipPlan(seed=1000 * index + part, duration_s=SEGMENT_S, tonic=index % 12, progression=0,
                        sections=(section,))  # fmt: skip
        parts.append(render(compose(plan), soundfont, SEGMENT_S, sample_rate).audio)
    return np.concatenate(parts)


def file_trial(calm_path: Path, energetic_path: Path, sample_rate: int) -> np.ndarray:
    n = int(SEGMENT_S * sample_rate)
    loud, soft = load_audio(energetic_path, sample_rate), load_audio(calm_path, sample_rate)
    if loud.size < 2 * n or soft.size < n:
        raise SystemExit(f"--energetic needs {2 * SEGMENT_S:g} s and --calm {SEGMENT_S:g} s of audio")
    return np.concatenate([loud[:n], soft[:n], loud[n : 2 * n]]).astype(np.float32)


def response_times(times: np.ndarray, arousal: np.ndarray) -> list[dict]:
    """One row per switch: plateaus, the step between them, and the crossing delay (``None`` when the step
    is below ``MIN_STEP`` or the arousal never crosses within the segment)."""
    rows = []
    for switch in (SEGMENT_S, 2 * SEGMENT_S):
        before = arousal[(times >= switch - PLATEAU_S) & (times < switch)].mean()
        after_end = switch + SEGMENT_S
        after = arousal[(times >= after_end - PLATEAU_S) & (times < after_end)].mean()
        halfway = (before + after) / 2
        delay = None
        if abs(after - before) >= MIN_STEP:
            segment = (times >= switch) & (times < after_end)
            crossed = (arousal[segment] - halfway) * np.sign(after - before) >= 0
            if crossed.any():
                delay = float(times[segment][np.argmax(crossed)] - switch)
        rows.append({"switch_s": switch, "direction": "down" if after < before else "up", "before": float(before),
                     "after": float(after), "response_s": delay})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None, help="model bundle (default: the shipped default)")
    parser.add_argument("--trials", type=int, default=len(PAIRS), help=f"synthetic trials (default {len(PAIRS)})")
    parser.add_argument("--soundfont", type=Path, default=SOUNDFONT, help=f"default {SOUNDFONT}")
    parser.add_argument("--calm", type=Path, help="a calm audio file (with --energetic: one real trial)")
    parser.add_argument("--energetic", type=Path, help="an energetic audio file, at least 24 s")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    bundle = load_bundle(args.bundle or default_bundle_path(), device="cpu")
    rate = bundle.spec.sample_rate
    if args.calm or args.energetic:
        if not (args.calm and args.energetic):
            parser.error("--calm and --energetic go together")
        trials = [("files", file_trial(args.calm, args.energetic, rate))]
    else:
        font = check_soundfont(args.soundfont)
        trials = [(f"{PAIRS[i % len(PAIRS)][0]}/{PAIRS[i % len(PAIRS)][1]}", synthetic_trial(i, rate, font))
                  for i in range(args.trials)]  # fmt: skip
    rows = []
    print(f"{'trial':28s} {'switch':>7s} {'dir':>5s} {'before':>7s} {'after':>7s} {'response s':>10s}")
    for name, audio in trials:
        times, va = stream_va(bundle, audio, BLOCK)
        for row in response_times(times, va[:, 1]):
            rows.append({"trial": name, **row})
            delay = "n/a" if row["response_s"] is None else f"{row['response_s']:.2f}"
            print(f"{name:28s} {row['switch_s']:7.1f} {row['direction']:>5s} {row['before']:7.3f} "
                  f"{row['after']:7.3f} {delay:>10s}")  # fmt: skip
    timed = [row["response_s"] for row in rows if row["response_s"] is not None]
    median = float(np.median(timed)) if timed else None
    summary = {
        "bundle": str(bundle.path),
        "segment_s": SEGMENT_S,
        "switches": len(rows),
        "timed_switches": len(timed),
        "response_median_s": median,
        "response_max_s": max(timed) if timed else None,
        "rows": rows,
    }
    print(f"median response {'n/a' if median is None else f'{median:.2f} s'} over {len(timed)} of {len(rows)} switches")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Generate a labelled synthetic corpus: audio files, time-varying labels and the parameters of each clip.

Layout of the output folder ``DIR``::

    DIR/audio/<seed>_<index>.flac   mono, 22050 Hz, 16-bit (or .ogg Vorbis)
    DIR/midi/<seed>_<index>.mid     the MIDI that was rendered
    DIR/labels.csv                  path,valence,arousal,time   (one row per clip and label instant)
    DIR/clips.jsonl                 one JSON object per clip: seeds, soundfont, ensembles, programs, plan
    DIR/corpus.json                 how the corpus was made: arguments, FluidSynth version, label mapping

In ``labels.csv`` ``path`` is relative to ``DIR``, valence and arousal are in [-1, 1] and ``time`` is the
label instant in seconds from the clip's start (2 Hz by default, first row at 0.0). Clip ``index`` of a
corpus drawn with seed ``S`` uses seed :func:`~train.synth.sampling.clip_seed` ``(S, index)`` and
soundfont ``index % len(soundfonts)``; corpora drawn with different ``S`` share no clip seed, which gives
splits held out by seed, and ``clips.jsonl`` names the soundfont and ensembles for splits by instrument.

Clips are rendered in parallel worker processes, each running its own FluidSynth; the files are written
by the workers and the two tables by the parent, in index order, so the output does not depend on the
number of workers.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from damer_core.errors import ConfigError
from damer_core.spec import require
from train.synth.compose import compose
from train.synth.ensembles import ENSEMBLES
from train.synth.labels import GAIN, LABEL_RATE_HZ, WEIGHTS, clip_labels
from train.synth.render import DEFAULT_GAIN, check_soundfont, fluidsynth_version, render
from train.synth.sampling import SamplingConfig, clip_seed, sample_plan

LABELS_HEADER = ("path", "valence", "arousal", "time")
AUDIO_FORMATS = {"flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS")}


@dataclass(frozen=True)
class RenderSettings:
    """How every clip of a corpus is rendered and labelled."""

    sample_rate: int = 22050
    gain: float = DEFAULT_GAIN
    audio_format: str = "flac"
    label_rate_hz: float = LABEL_RATE_HZ

    def __post_init__(self) -> None:
        require(self.sample_rate >= 8000, "sample_rate", ">= 8000 Hz", self.sample_rate)
        require(0 < self.gain < 10, "gain", "in (0, 10)", self.gain)
        require(self.audio_format in AUDIO_FORMATS, "audio_format", f"one of {list(AUDIO_FORMATS)}", self.audio_format)
        require(self.label_rate_hz > 0, "label_rate_hz", "> 0 Hz", self.label_rate_hz)


@dataclass(frozen=True)
class ClipJob:
    """Everything a worker needs to make clip ``index``."""

    out_dir: Path
    corpus_seed: int
    index: int
    soundfont: Path
    sampling: SamplingConfig
    settings: RenderSettings


def clip_stem(corpus_seed: int, index: int) -> str:
    """File name stem of a clip, e.g. ``s7_000042``."""
    return f"s{corpus_seed}_{index:06d}"


def make_clip(job: ClipJob) -> tuple[dict[str, Any], list[tuple[str, float, float, float]]]:
    """Compose, render and write one clip; return its parameter record and its label rows."""
    seed = clip_seed(job.corpus_seed, job.index)
    plan = sample_plan(seed, job.sampling)
    stem = clip_stem(job.corpus_seed, job.index)
    audio_path = f"audio/{stem}.{job.settings.audio_format}"
    midi_path = f"midi/{stem}.mid"
    midi = compose(plan)
    midi.save(str(job.out_dir / midi_path))
    rendering = render(midi, job.soundfont, plan.duration_s, job.settings.sample_rate, job.settings.gain)
    container, subtype = AUDIO_FORMATS[job.settings.audio_format]
    soundfile.write(
        str(job.out_dir / audio_path), rendering.audio, job.settings.sample_rate, format=container, subtype=subtype
    )

    times, labels = clip_labels(plan, job.settings.label_rate_hz)
    rows = [
        (audio_path, round(float(v), 4), round(float(a), 4), round(float(t), 3))
        for t, (v, a) in zip(times, labels, strict=True)
    ]
    rms = float(np.sqrt(np.mean(np.square(rendering.audio, dtype=np.float64))))
    timbres = [ENSEMBLES[s.ensemble] for s in plan.sections]
    record = {
        "path": audio_path,
        "midi": midi_path,
        "corpus_seed": job.corpus_seed,
        "index": job.index,
        "seed": seed,
        "soundfont": job.soundfont.name,
        "duration_s": plan.duration_s,
        "changing": len(plan.sections) > 1,
        "change_times_s": [b.start_s for b in plan.boundaries],
        "ramps_s": [b.ramp_s for b in plan.boundaries],
        "ensembles": [s.ensemble for s in plan.sections],
        "families": [t.family for t in timbres],
        "programs": [[t.melody, t.accompaniment, t.bass] for t in timbres],
        "percussion": [s.percussion for s in plan.sections],
        "modes": ["major" if s.major else "minor" for s in plan.sections],
        "tempi_bpm": [s.tempo_bpm for s in plan.sections],
        "render_scale": rendering.scale,
        "rms_dbfs": round(20.0 * math.log10(max(rms, 1e-10)), 2),
        "peak_dbfs": round(20.0 * math.log10(max(float(np.max(np.abs(rendering.audio))), 1e-10)), 2),
        "plan": plan.to_dict(),
    }
    return record, rows


def _results(jobs: list[ClipJob], workers: int) -> Iterator[tuple[dict[str, Any], list]]:
    if workers == 1:
        yield from map(make_clip, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(make_clip, jobs, chunksize=4)


def generate_corpus(
    out_dir: Path,
    n: int,
    seed: int,
    soundfonts: Sequence[Path],
    sampling: SamplingConfig = SamplingConfig(),
    settings: RenderSettings = RenderSettings(),
    workers: int = 1,
    progress: bool = False,
) -> dict[str, Any]:
    """Write ``n`` clips drawn with ``seed`` into ``out_dir`` (layout in the module docstring) and return
    the corpus description also written to ``corpus.json``."""
    require(n > 0, "n", "> 0", n)
    require(seed >= 0, "seed", ">= 0", seed)
    require(workers >= 1, "workers", ">= 1", workers)
    if not soundfonts:
        raise ConfigError("soundfonts: give at least one SoundFont file")
    fonts = [check_soundfont(Path(p)) for p in soundfonts]
    version = fluidsynth_version()
    for sub in ("audio", "midi"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    jobs = [ClipJob(out_dir, seed, i, fonts[i % len(fonts)], sampling, settings) for i in range(n)]

    started = time.perf_counter()
    labels_partial = out_dir / "labels.csv.partial"
    clips_partial = out_dir / "clips.jsonl.partial"
    audio_s = 0.0
    with (
        labels_partial.open("w", newline="", encoding="utf-8") as labels_file,
        clips_partial.open("w", encoding="utf-8") as clips_file,
    ):
        writer = csv.writer(labels_file)
        writer.writerow(LABELS_HEADER)
        for done, (record, rows) in enumerate(_results(jobs, workers), start=1):
            writer.writerows(rows)
            clips_file.write(json.dumps(record) + "\n")
            audio_s += record["duration_s"]
            if progress and (done % 100 == 0 or done == n):
                minutes = (time.perf_counter() - started) / 60.0
                print(f"{done}/{n} clips, {done / minutes:.0f} clips/min", file=sys.stderr, flush=True)
    labels_partial.replace(out_dir / "labels.csv")
    clips_partial.replace(out_dir / "clips.jsonl")
    elapsed = time.perf_counter() - started

    description = {
        "n": n,
        "seed": seed,
        "soundfonts": [str(f) for f in fonts],
        "fluidsynth": version,
        "workers": workers,
        "sampling": dataclasses.asdict(sampling),
        "settings": dataclasses.asdict(settings),
        "label_mapping": {"gain": GAIN, "weights": {k: list(w) for k, w in WEIGHTS.items()}},
        "audio_seconds": round(audio_s, 2),
        "elapsed_s": round(elapsed, 2),
        "clips_per_minute": round(60.0 * n / elapsed, 1),
        "x_realtime": round(audio_s / elapsed, 1),
        "cpu_count": os.cpu_count(),
    }
    (out_dir / "corpus.json").write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return description

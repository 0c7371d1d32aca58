"""The demo clip shipped in the engine's package data is the rendering of the demo plan (its length, its
label table, per-section loudness and tempo), and the regeneration function writes both files."""

from __future__ import annotations

import csv
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import soundfile

from train.synth.demo import DEMO_PLAN, SECTION_NAMES, write_demo
from train.synth.labels import clip_labels

DATA = Path(str(files("streamer") / "data"))


def test_shipped_demo_is_small_mono_22050_hz_and_as_long_as_the_plan():
    info = soundfile.info(str(DATA / "demo.ogg"))
    assert (info.samplerate, info.channels, info.format) == (22050, 1, "OGG")
    assert info.frames == round(DEMO_PLAN.duration_s * 22050)
    assert (DATA / "demo.ogg").stat().st_size < 1_000_000


def test_shipped_labels_are_the_plan_labels_and_visit_all_four_quadrants():
    with (DATA / "demo_labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    times, labels = clip_labels(DEMO_PLAN)
    assert {r["path"] for r in rows} == {"demo.ogg"}
    np.testing.assert_allclose([float(r["time"]) for r in rows], times)
    np.testing.assert_allclose([[float(r["valence"]), float(r["arousal"])] for r in rows], labels, atol=1e-4)
    middles = [DEMO_PLAN.section_span(i) for i in range(len(SECTION_NAMES))]
    quadrants = {tuple(np.sign(labels[np.searchsorted(times, (a + b) / 2)])) for a, b in middles}
    assert quadrants == {(1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, 1.0)}


def test_shipped_audio_is_loud_where_arousal_is_high_and_keeps_the_planned_tempi(estimate_tempo):
    audio, rate = soundfile.read(str(DATA / "demo.ogg"), dtype="float32")
    levels, tempi = {}, {}
    for i, name in enumerate(SECTION_NAMES):
        start, end = DEMO_PLAN.section_span(i)
        part = audio[int(start * rate) : int(end * rate)]
        levels[name] = 20 * np.log10(np.sqrt(np.mean(np.square(part, dtype=np.float64))))
        tempi[name] = estimate_tempo(part)
    assert min(levels["agitated"], levels["happy"]) > max(levels["calm"], levels["sad"]) + 6.0
    for i, name in enumerate(SECTION_NAMES):
        if name != "sad":  # legato strings: too few clear onsets for an onset-based estimate
            assert tempi[name] == pytest.approx(DEMO_PLAN.sections[i].tempo_bpm, rel=0.03), (name, tempi)


def test_regeneration_writes_the_clip_and_the_same_labels(tmp_path, soundfont):
    out = tmp_path / "demo.ogg"
    labels_path = write_demo(out, soundfont)
    info = soundfile.info(str(out))
    assert (info.samplerate, info.channels, info.frames) == (22050, 1, round(DEMO_PLAN.duration_s * 22050))
    assert labels_path.read_bytes() == (DATA / "demo_labels.csv").read_bytes()

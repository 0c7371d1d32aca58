"""A small corpus end to end: the label table's format, the parameter records, determinism across worker
counts, and the command line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from damer_core.cli import build_parser
from train.datasets.labelled_csv import read_labelled_csv
from train.synth.cli import main
from train.synth.corpus import generate_corpus
from train.synth.labels import label_times
from train.synth.sampling import SamplingConfig

CHANGING = SamplingConfig(min_duration_s=16.0, max_duration_s=17.0, change_fraction=1.0, max_ramp_s=3.0)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def corpus(tmp_path, soundfont) -> Path:
    out = tmp_path / "one"
    generate_corpus(out, n=4, seed=9, soundfonts=[soundfont], sampling=CHANGING, workers=1)
    return out


def test_label_table_lists_every_clip_at_2_hz_in_the_own_format(corpus):
    with (corpus / "labels.csv").open() as handle:
        assert handle.readline().strip() == "path,valence,arousal,time"
    rows = read_rows(corpus / "labels.csv")
    records = [json.loads(line) for line in (corpus / "clips.jsonl").read_text().splitlines()]
    assert [r["path"] for r in records] == [f"audio/s9_{i:06d}.flac" for i in range(4)]
    for record in records:
        mine = [r for r in rows if r["path"] == record["path"]]
        times = np.array([float(r["time"]) for r in mine])
        np.testing.assert_allclose(times, label_times(record["duration_s"]))
        labels = np.array([[float(r["valence"]), float(r["arousal"])] for r in mine])
        assert np.all(np.abs(labels) < 1.0)
        info = soundfile.info(str(corpus / record["path"]))
        assert (info.samplerate, info.channels) == (22050, 1)
        assert info.frames == round(record["duration_s"] * 22050)
        assert (corpus / record["midi"]).is_file()
        assert record["soundfont"] == "TimGM6mb.sf2" and record["changing"]
        change = record["change_times_s"][0]
        before, after = labels[times < change], labels[times >= change + record["ramps_s"][0]]
        assert np.abs(after[0] - before[-1]).max() > 0.1
    clips = read_labelled_csv(corpus / "labels.csv")
    assert len(clips) == 4 and all(c.dynamic is not None for c in clips)


def test_corpus_is_identical_whatever_the_number_of_workers(corpus, tmp_path, soundfont):
    other = tmp_path / "two"
    summary = generate_corpus(other, n=4, seed=9, soundfonts=[soundfont], sampling=CHANGING, workers=2)
    assert summary["workers"] == 2 and summary["clips_per_minute"] > 0
    for name in ("labels.csv", "clips.jsonl"):
        assert (corpus / name).read_bytes() == (other / name).read_bytes()
    for i in range(4):
        assert (corpus / f"midi/s9_{i:06d}.mid").read_bytes() == (other / f"midi/s9_{i:06d}.mid").read_bytes()
        a, _ = soundfile.read(str(corpus / f"audio/s9_{i:06d}.flac"))
        b, _ = soundfile.read(str(other / f"audio/s9_{i:06d}.flac"))
        np.testing.assert_array_equal(a, b)
    description = json.loads((other / "corpus.json").read_text())
    assert description["fluidsynth"].startswith("FluidSynth") and description["n"] == 4


def test_command_line_writes_a_corpus_and_reports_bad_input_in_one_line(tmp_path, soundfont, capsys):
    out = tmp_path / "cli"
    assert (
        main(
            [
                "--out",
                str(out),
                "--n",
                "2",
                "--seed",
                "3",
                "--soundfont",
                str(soundfont),
                "--workers",
                "1",
                "--min-duration",
                "4",
                "--max-duration",
                "5",
                "--format",
                "ogg",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (out / "audio").iterdir()) == ["s3_000000.ogg", "s3_000001.ogg"]
    assert "2 clips" in capsys.readouterr().out
    assert main(["--out", str(out), "--n", "1", "--soundfont", str(tmp_path / "missing.sf2")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("train.synth: error: soundfont") and "\n" not in error


def test_damer_dispatcher_offers_the_synth_command():
    subcommands = build_parser()._subparsers._group_actions[0].choices
    assert "synth" in subcommands

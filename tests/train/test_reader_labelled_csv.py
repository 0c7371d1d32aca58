"""The project's own labelled format: path,valence,arousal[,time][,group] next to the audio."""

import math
from pathlib import Path

import numpy as np
import pytest

from train.datasets.labelled_csv import read_labelled_csv
from train.errors import DatasetError


def write_table(root: Path, write_audio, text: str, files=("calm/piano.wav", "songs/rise.flac", "x.ogg")) -> Path:
    for name in files:
        write_audio(root / name, seconds=0.2)
    (root / "labels.csv").write_text(text)
    return root / "labels.csv"


def test_static_rows_dynamic_rows_and_groups(tmp_path, write_audio):
    table = write_table(
        tmp_path,
        write_audio,
        "path,valence,arousal,time,group\n"
        "calm/piano.wav,-0.2,-0.6,,\n"
        "songs/rise.flac,0.5,0.8,10.0,album-a\n"
        "songs/rise.flac,0.1,-0.5,0.0,album-a\n"
        "x.ogg,,0.4,,\n"
        "songs/rise.flac,0.4,,5.0,album-a\n",
    )
    piano, rise, x = read_labelled_csv(table, source="synthetic")
    assert (piano.track_id, piano.valence, piano.arousal, piano.dynamic, piano.group) == (
        "calm/piano.wav",
        -0.2,
        -0.6,
        None,
        "calm/piano.wav",
    )
    assert piano.audio_path == tmp_path / "calm" / "piano.wav" and piano.source == "synthetic"
    np.testing.assert_array_equal(rise.dynamic.times_s, [0.0, 5.0, 10.0])
    np.testing.assert_allclose(rise.dynamic.valence, [0.1, 0.4, 0.5], rtol=1e-6)
    np.testing.assert_allclose(rise.dynamic.arousal, [-0.5, np.nan, 0.8], rtol=1e-6)
    # No clip-level row: the mean of the labelled instants per dimension.
    assert rise.valence == pytest.approx((0.1 + 0.4 + 0.5) / 3, rel=1e-6)
    assert rise.arousal == pytest.approx((-0.5 + 0.8) / 2, rel=1e-6)
    assert rise.group == "album-a"
    assert math.isnan(x.valence) and x.arousal == 0.4


def test_minimal_columns(tmp_path, write_audio):
    table = write_table(tmp_path, write_audio, "valence,path,arousal\n0.3,x.ogg,-1\n", files=("x.ogg",))
    (clip,) = read_labelled_csv(table)
    assert (clip.valence, clip.arousal, clip.source) == (0.3, -1.0, "own")


@pytest.mark.parametrize(
    "text, message",
    [
        ("path,valence,arousal\nx.ogg,1.2,0\n", r"labels.csv:2: column 'valence': 1.2 is outside the -1..1"),
        ("path,valence,arousal,mood\nx.ogg,0,0,sad\n", r"labels.csv:1: unknown column 'mood'"),
        ("path,valence\nx.ogg,0\n", r"labels.csv:1: missing column 'arousal'"),
        ("path,valence,arousal\nx.ogg,0\n", r"labels.csv:2: expected 3 fields, got 2"),
        ("path,valence,arousal\nx.ogg,0,0\nnothere.wav,0,0\n", r"labels.csv:3: audio file .*nothere.wav not found"),
        (
            "path,valence,arousal\nx.ogg,0,0\nx.ogg,0.1,0\n",
            r"labels.csv:3: second clip-level label for 'x.ogg' \(first at line 2\)",
        ),
        (
            "path,valence,arousal,time\nx.ogg,0,0,1\nx.ogg,0,0,2\nx.ogg,0,0,1.0\n",
            r"labels.csv:4: 'x.ogg' has a second label at 1 s \(first at line 2\)",
        ),
        ("path,valence,arousal,time\nx.ogg,0,0,-1\n", r"labels.csv:2: negative time -1 s"),
        (
            "path,valence,arousal,group\nx.ogg,0,0,a\nx.ogg,0,0,b\n",
            r"labels.csv:3: rows of 'x.ogg' disagree on group \(a, b\)",
        ),
        ("path,valence,arousal\n/abs/x.ogg,0,0\n", r"labels.csv:2: path '/abs/x.ogg' must be a path relative"),
        ("path,valence,arousal\nx.ogg,0,inf\n", r"labels.csv:2: column 'arousal': expected a finite number"),
    ],
)
def test_bad_tables_name_file_and_line(tmp_path, write_audio, text, message):
    with pytest.raises(DatasetError, match=message):
        read_labelled_csv(write_table(tmp_path, write_audio, text, files=("x.ogg",)))


def test_many_files_with_time_rows_in_reverse_order(tmp_path, write_audio):
    audio = write_audio(tmp_path / "one.wav", seconds=0.1).read_bytes()
    lines = ["path,valence,arousal,time"]
    for i in range(200):
        (tmp_path / f"f{i}.wav").write_bytes(audio)
        lines += [f"f{i}.wav,{(k % 21 - 10) / 10},{i / 200},{29.5 - k / 2}" for k in range(60)]
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    clips = read_labelled_csv(tmp_path / "labels.csv")
    assert [c.track_id for c in clips] == [f"f{i}.wav" for i in range(200)]
    assert all(np.array_equal(c.dynamic.times_s, np.arange(60) / 2) for c in clips)
    # The row written last (k = 59) holds the earliest instant.
    np.testing.assert_allclose(clips[7].dynamic.valence[[0, -1]], [(59 % 21 - 10) / 10, -1.0], rtol=1e-6)
    np.testing.assert_allclose(clips[7].dynamic.arousal, 7 / 200, rtol=1e-6)

"""EmoMusic ("1000 songs") reader on a fixture in its release layout."""

from pathlib import Path

import numpy as np
import pytest

from train.datasets.emomusic import read_emomusic
from train.errors import DatasetError


def write_emomusic(root: Path, write_audio, static_rows: str = "2,7,0.9,3,1.1\n5,1,0.5,9,0.4\n") -> Path:
    (root / "annotations").mkdir(parents=True)
    (root / "annotations/static_annotations.csv").write_text(
        "song_id,mean_arousal,std_arousal,mean_valence,std_valence\n" + static_rows
    )
    header = "song_id,sample_15000ms,sample_15500ms\n"
    (root / "annotations/arousal_cont_average.csv").write_text(header + "2,0.1,0.2\n5,-0.3,-0.4\n")
    (root / "annotations/valence_cont_average.csv").write_text(header + "2,-0.1,-0.2\n5,0.3,0.4\n")
    for song in (2, 5):
        write_audio(root / "clips_45seconds" / f"{song}.mp3", seconds=0.2, sample_rate=44100)
    return root


def test_static_nine_point_labels_and_dynamic_labels(tmp_path, write_audio):
    first, second = read_emomusic(write_emomusic(tmp_path, write_audio))
    assert (first.track_id, first.valence, first.arousal) == ("2", -0.5, 0.5)
    assert (second.valence, second.arousal) == (1.0, -1.0)
    np.testing.assert_array_equal(first.dynamic.times_s, [15.0, 15.5])
    np.testing.assert_allclose(first.dynamic.arousal, [0.1, 0.2], rtol=1e-6)
    np.testing.assert_allclose(second.dynamic.valence, [0.3, 0.4], rtol=1e-6)
    assert first.audio_path == tmp_path / "clips_45seconds/2.mp3" and first.source == "emomusic"


@pytest.mark.parametrize(
    "rows, message",
    [
        (
            "2,0.5,0.9,3,1.1\n5,1,0.5,9,0.4\n",
            r"static_annotations.csv:2: column 'mean_arousal': 0.5 is outside the 1..9",
        ),
        ("2,7,0.9,3,1.1\n5,1,0.5\n", r"static_annotations.csv:3: expected 5 fields, got 3"),
        ("2,7,0.9,3,1.1\n5,1,0.5,9,0.4\n6,5,1,5,1\n", r"static_annotations.csv:4: audio file .*6.mp3 not found"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, write_audio, rows, message):
    with pytest.raises(DatasetError, match=message):
        read_emomusic(write_emomusic(tmp_path, write_audio, static_rows=rows))


def test_unnamed_dynamic_column_is_rejected(tmp_path, write_audio):
    root = write_emomusic(tmp_path, write_audio)
    (root / "annotations/valence_cont_average.csv").write_text("song_id,sample_15000ms,t16\n2,0.1,0.2\n")
    with pytest.raises(DatasetError, match=r"valence_cont_average.csv:1: column 't16' is not of the form"):
        read_emomusic(root)

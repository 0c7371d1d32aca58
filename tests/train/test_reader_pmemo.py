"""PMEmo reader on a fixture in PMEmo2019's layout."""

from pathlib import Path

import numpy as np
import pytest

from train.datasets.pmemo import read_pmemo
from train.errors import DatasetError

DYNAMIC_ROWS = "1,15.5,0.5,0.25\n1,16.0,0.75,0.5\n4,15.5,0.1,0.9\n"


def write_pmemo(
    root: Path, write_audio, static_rows: str = "1,0.75,0.25\n4,0,1\n", dynamic_rows: str = DYNAMIC_ROWS
) -> Path:
    (root / "PMEmo2019/annotations").mkdir(parents=True)
    (root / "PMEmo2019/annotations/static_annotations.csv").write_text(
        "musicId,Arousal(mean),Valence(mean)\n" + static_rows
    )
    (root / "PMEmo2019/annotations/dynamic_annotations.csv").write_text(
        "musicId,frameTime,Arousal(mean),Valence(mean)\n" + dynamic_rows
    )
    for song in (1, 4):
        write_audio(root / "PMEmo2019/chorus" / f"{song}.mp3", seconds=0.2, sample_rate=44100)
    return root


def test_labels_map_two_x_minus_one_for_static_and_dynamic(tmp_path, write_audio):
    first, second = read_pmemo(write_pmemo(tmp_path, write_audio))
    assert (first.track_id, first.valence, first.arousal) == ("1", -0.5, 0.5)
    assert (second.valence, second.arousal) == (1.0, -1.0)
    np.testing.assert_array_equal(first.dynamic.times_s, [15.5, 16.0])
    np.testing.assert_array_equal(first.dynamic.arousal, [0.0, 0.5])
    np.testing.assert_array_equal(first.dynamic.valence, [-0.5, 0.0])
    np.testing.assert_allclose(second.dynamic.valence, [0.8], rtol=1e-6)
    assert first.audio_path.name == "1.mp3" and first.source == "pmemo"


def test_rows_of_a_song_may_come_in_any_order(tmp_path, write_audio):
    rows = "1,16.0,0.75,0.5\n4,15.5,0.1,0.9\n1,15.5,0.5,0.25\n"
    first, _ = read_pmemo(write_pmemo(tmp_path, write_audio, dynamic_rows=rows))
    np.testing.assert_array_equal(first.dynamic.times_s, [15.5, 16.0])
    np.testing.assert_array_equal(first.dynamic.arousal, [0.0, 0.5])


@pytest.mark.parametrize(
    "static_rows, dynamic_rows, message",
    [
        ("1,1.2,0.25\n", DYNAMIC_ROWS, r"static_annotations.csv:2: column 'Arousal\(mean\)': 1.2 is outside the 0..1"),
        (
            "1,0.7,0.25\n4,0,1\n",
            DYNAMIC_ROWS + "1,16.0,0.2,0.2\n",
            r"dynamic_annotations.csv:5: '1' has a second label at 16 s \(first at line 3\)",
        ),
        ("1,0.7,0.25\n4,0,1\n", "1,x,0.5,0.5\n", r"dynamic_annotations.csv:2: column 'frameTime': expected a number"),
        ("1,0.7,0.25\n", DYNAMIC_ROWS, r"dynamic_annotations.csv: song '4' has dynamic labels but no row"),
        ("1,0.7,0.25\n5,0.5,0.5\n", DYNAMIC_ROWS, r"static_annotations.csv:3: audio file .*5.mp3 not found"),
        ("1,0.7,nan\n", DYNAMIC_ROWS, r"static_annotations.csv:2: column 'Valence\(mean\)': expected a finite number"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, write_audio, static_rows, dynamic_rows, message):
    root = write_pmemo(tmp_path, write_audio, static_rows=static_rows, dynamic_rows=dynamic_rows)
    with pytest.raises(DatasetError, match=message):
        read_pmemo(root)

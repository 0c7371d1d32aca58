"""DEAM reader on a fixture written in DEAM's layout (nested folders, header with leading spaces)."""

import math
from pathlib import Path

import numpy as np
import pytest

from train.datasets.deam import read_deam
from train.errors import DatasetError

SONG_LEVEL = Path("DEAM_Annotations/annotations/annotations averaged per song/song_level")
DYNAMIC = Path("DEAM_Annotations/annotations/annotations averaged per song/dynamic (per second annotations)")
STATIC_HEADER = "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n"


def write_deam(root: Path, write_audio, static_rows: str = "2, 3.1, 0.94, 7, 0.63\n3, 9, 1.2, 1, 0.9\n") -> Path:
    (root / SONG_LEVEL).mkdir(parents=True)
    (root / DYNAMIC).mkdir(parents=True)
    (root / SONG_LEVEL / "static_annotations_averaged_songs_1_2000.csv").write_text(STATIC_HEADER + static_rows)
    header = "song_id,sample_15000ms,sample_15500ms,sample_16000ms\n"
    (root / DYNAMIC / "valence.csv").write_text(header + "2,-0.1,-0.12,-0.15\n3,0.2,0.25,\n")
    (root / DYNAMIC / "arousal.csv").write_text(header + "2,0.3,0.35,0.4\n3,-0.5,-0.45,\n")
    for song in (2, 3, 4):
        write_audio(root / "DEAM_audio/MEMD_audio" / f"{song}.mp3", seconds=0.2, sample_rate=44100)
    return root


def test_static_labels_map_from_nine_points_and_dynamic_labels_keep_their_times(tmp_path, write_audio):
    clips = read_deam(write_deam(tmp_path, write_audio))
    assert [c.track_id for c in clips] == ["2", "3"]
    first, second = clips
    assert (first.valence, first.arousal) == pytest.approx(((3.1 - 5) / 4, 0.5))
    assert (second.valence, second.arousal) == (1.0, -1.0)
    assert first.source == "deam" and first.group == "2"
    assert first.audio_path == tmp_path / "DEAM_audio/MEMD_audio/2.mp3"
    np.testing.assert_array_equal(first.dynamic.times_s, [15.0, 15.5, 16.0])
    np.testing.assert_allclose(first.dynamic.valence, [-0.1, -0.12, -0.15], rtol=1e-6)
    np.testing.assert_allclose(first.dynamic.arousal, [0.3, 0.35, 0.4], rtol=1e-6)
    np.testing.assert_array_equal(second.dynamic.times_s, [15.0, 15.5])  # trailing empty cells dropped


def test_second_static_table_is_read_when_present(tmp_path, write_audio):
    root = write_deam(tmp_path, write_audio)
    (root / SONG_LEVEL / "static_annotations_averaged_songs_2000_2058.csv").write_text(
        STATIC_HEADER + "4, 5, 1, 5, 1\n"
    )
    clips = read_deam(root)
    assert [c.track_id for c in clips] == ["2", "3", "4"]
    assert (clips[2].valence, clips[2].arousal) == (0.0, 0.0) and clips[2].dynamic is None


def test_without_dynamic_labels(tmp_path, write_audio):
    assert all(c.dynamic is None for c in read_deam(write_deam(tmp_path, write_audio), dynamic=False))


@pytest.mark.parametrize(
    "rows, message",
    [
        (
            "2, 3.1, 0.94, 9.5, 0.63\n",
            r"static_annotations_averaged_songs_1_2000.csv:2: column 'arousal_mean': 9.5 is outside the 1..9",
        ),
        ("2, 3.1, 0.94\n", r"static_annotations_averaged_songs_1_2000.csv:2: expected 5 fields, got 3"),
        (
            "2, 3.1, 0.94, 5, 1\n3, abc, 1, 5, 1\n",
            r"static_annotations_averaged_songs_1_2000.csv:3: column 'valence_mean': expected a number",
        ),
        (
            "2, 3.1, 0.94, 5, 1\n2, 3.1, 0.94, 5, 1\n",
            r"static_annotations_averaged_songs_1_2000.csv:3: song '2' appears again",
        ),
        (
            "2, 3.1, 0.94, 5, 1\n9, 5, 1, 5, 1\n",
            r"static_annotations_averaged_songs_1_2000.csv:3: audio file .*9.mp3 not found",
        ),
    ],
)
def test_malformed_static_rows_name_file_and_line(tmp_path, write_audio, rows, message):
    root = write_deam(tmp_path, write_audio, static_rows=rows)
    with pytest.raises(DatasetError, match=message):
        read_deam(root, dynamic=False)


def test_out_of_range_dynamic_value_names_file_line_and_column(tmp_path, write_audio):
    root = write_deam(tmp_path, write_audio)
    (root / DYNAMIC / "arousal.csv").write_text("song_id,sample_15000ms\n2,0.3\n3,1.5\n")
    with pytest.raises(DatasetError, match=r"arousal.csv:3: column 'sample_15000ms': 1.5 is outside the -1..1"):
        read_deam(root)


def test_dynamic_labels_without_static_row_are_an_error(tmp_path, write_audio):
    root = write_deam(tmp_path, write_audio)
    (root / DYNAMIC / "valence.csv").write_text("song_id,sample_15000ms\n2,0.1\n3,0.1\n77,0.2\n")
    with pytest.raises(DatasetError, match="song '77' has dynamic labels but no static row"):
        read_deam(root)


def test_dimension_missing_at_an_instant_is_nan(tmp_path, write_audio):
    root = write_deam(tmp_path, write_audio)
    (root / DYNAMIC / "valence.csv").write_text("song_id,sample_15000ms,sample_15500ms\n2,0.1,\n3,0.1,0.2\n")
    (root / DYNAMIC / "arousal.csv").write_text("song_id,sample_15000ms,sample_15500ms\n2,0.3,0.4\n")
    first, second = read_deam(root)
    np.testing.assert_allclose(first.dynamic.valence, [0.1, np.nan], rtol=1e-6)
    assert math.isnan(second.dynamic.arousal[0]) and math.isnan(second.dynamic.arousal[1])


def test_missing_table_is_named(tmp_path, write_audio):
    root = write_deam(tmp_path, write_audio)
    (root / DYNAMIC / "arousal.csv").unlink()
    with pytest.raises(DatasetError, match="no file named 'arousal.csv'"):
        read_deam(root)
